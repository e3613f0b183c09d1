import type ort from "onnxruntime-node";
import type { Manifest } from "../compiler/inference.js";
import { resolve } from "../plan/resolve.js";
import type { Spec } from "../spec/types.js";
import { encodeBatch } from "./batch.js";
import { evaluate, type EvaluationMetrics } from "./metrics.js";
import { checkEvaluationFile, nothingToEvaluate } from "./data-stats.js";
import { openRows } from "./readers.js";
import { RouterStatistics, type GateStatistics } from "./router-stats.js";
import { checkColumns, labelRow, type LabelledRow } from "./rows.js";

/** Gates whose choice j is another expert in each domain (a per-domain gate over per_domain pools). */
function perDomainChoiceGates(spec: Spec): Set<string> {
  return new Set(resolve(spec).components.flatMap((c) => (c.kind === "gate" && !c.identity ? [c.name] : [])));
}

export interface EvaluateOptions {
  batchSize?: number;
  /** Inputs fed to every run besides the batch's (weights the model takes as inputs). */
  fed?: Record<string, ort.Tensor>;
  /** The file was checked row by row already (training's validation file). */
  checked?: boolean;
}

/**
 * Scores a labelled file with an inference session and computes overall and per-domain metrics, and the
 * router statistics of every gate whose debug outputs the model has.
 */
export async function evaluateFile(session: ort.InferenceSession, manifest: Manifest, spec: Spec, file: string, options: EvaluateOptions = {}): Promise<EvaluationMetrics & { skipped: number; routers?: Record<string, GateStatistics> }> {
  const { batchSize = 4096, fed = {} } = options;
  const routers = RouterStatistics.gatesOf(manifest).length ? new RouterStatistics(spec.domain.values, perDomainChoiceGates(spec)) : undefined;
  // A CSV file is checked first, in parts on every core (a problem is then found again with its line and
  // column); a checked file is parsed in a worker, without positions: the thread and its heap stay free.
  // mdr eval of 5·10⁵ rows: 20 s read with positions, 13 s so. Standard input is read once, with positions.
  let checked = options.checked ?? false;
  if (!checked && /\.csv$/i.test(file)) {
    await checkEvaluationFile(spec, file);
    checked = true;
  }
  const source = openRows(file, checked ? { positions: false, worker: true } : {});
  checkColumns(spec, await source.columns(), file);
  const probabilities: number[] = [];
  const labels: number[] = [];
  const domains: number[] = [];
  let skipped = 0;
  let batch: LabelledRow[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const out = await session.run({ ...encodeBatch(manifest, batch, file), ...fed });
    const p = out.probability.data as Float32Array;
    routers?.add(out, batch.map((r) => r.domain));
    batch.forEach((r, i) => {
      probabilities.push(p[i]);
      labels.push(r.label);
      domains.push(r.domain);
    });
    batch = [];
  };
  for await (const chunk of source.chunks()) {
    for (const row of chunk) {
      const labelled = labelRow(spec, row, file);
      if (!labelled) {
        skipped++;
        continue;
      }
      batch.push(labelled);
      if (batch.length >= batchSize) await flush();
    }
  }
  await flush();
  if (labels.length === 0) throw nothingToEvaluate(file, skipped);
  return { ...evaluate(probabilities, labels, domains, spec.domain.values), skipped, ...(routers ? { routers: routers.result() } : {}) };
}
