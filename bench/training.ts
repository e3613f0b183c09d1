import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import ort from "onnxruntime-node";
import { costReport } from "../src/plan/cost.js";
import { resolve } from "../src/plan/resolve.js";
import { compileTrainStep } from "../src/compiler/train-step.js";
import { createSourceFile } from "../src/diagnostics/source.js";
import type { DispatchMode } from "../src/graph/dispatch.js";
import { prng } from "../src/graph/init.js";
import type { ModelData } from "../src/plan/model-data.js";
import type { RawRow } from "../src/runtime/batch.js";
import { initialStepState, runTrainStep } from "../src/runtime/step-runner.js";
import { compileSpecSource } from "../src/compiler/frontend.js";
import type { Spec } from "../src/spec/types.js";
import { rawMatmulModel, timeRuns } from "./feeds.js";
import { loadSpec, root } from "./util.js";


/** Vocabularies of 1,000 values per learned field, so lookups hit real rows. */
function benchData(spec: Spec): ModelData {
  const data: ModelData = { vocabularies: {}, numeric: {} };
  for (const f of spec.features) {
    if (f.kind === "numeric") data.numeric[f.name] = { mean: 0, std: 1 };
    else if (!f.range && !f.table) data.vocabularies[f.name] = Array.from({ length: 1000 }, (_, i) => `v${i}`);
  }
  return data;
}

function randomRaw(spec: Spec, n: number, seed: number): { rows: RawRow[]; domains: number[]; labels: Float32Array } {
  const rnd = prng(seed, "train-rows");
  const rows: RawRow[] = [];
  const domains: number[] = [];
  for (let i = 0; i < n; i++) {
    const values: Record<string, unknown> = {};
    for (const f of spec.features) {
      if (f.kind === "numeric") values[f.column] = String(rnd() * 4 - 2);
      else if (f.range) values[f.column] = String(f.range[0] + Math.floor(rnd() * (f.range[1] - f.range[0] + 1)));
      else if (f.kind === "multi_categorical") values[f.column] = `v${Math.floor(rnd() * 1000)}${f.separator}v${Math.floor(rnd() * 1000)}`;
      else values[f.column] = `v${Math.floor(rnd() * 1000)}`;
    }
    const d = Math.floor(rnd() * spec.domain.values.length);
    values[spec.domain.column] = spec.domain.values[d];
    rows.push({ values, line: i + 2 });
    domains.push(d);
  }
  return { rows, domains, labels: Float32Array.from({ length: n }, () => (rnd() < 0.5 ? 1 : 0)) };
}

export interface TrainingRow extends Record<string, string | number> {
  model: string;
  dispatch: string;
  threads: number;
  batch: number;
  rows_per_s: number;
  step_ms: number;
}

/**
 * Training throughput of whole steps as `mdr train` runs them (host batch encoding, the ONNX step,
 * writing rows back), on rows already in memory: file reading is measured by the quickstart instead.
 */
export async function measureTraining(spec: Spec, dispatch: DispatchMode | undefined, batch: number, threads: number, seconds = 2): Promise<TrainingRow> {
  const data = benchData(spec);
  const step = compileTrainStep(spec, { data, dispatch });
  const session = await ort.InferenceSession.create(Buffer.from(step.model), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  const state = initialStepState(spec, step, data);
  const batches = Array.from({ length: 4 }, (_, i) => randomRaw(spec, batch, i));
  let stepNo = 0;
  const runOne = async () => {
    const b = batches[stepNo % batches.length];
    stepNo++;
    await runTrainStep(session, spec, step, state, { rows: b.rows, domains: b.domains, labels: b.labels, lr: 1e-3, embeddingLr: 1e-3, step: stepNo, seed: stepNo, file: "bench" });
  };
  for (let i = 0; i < 2; i++) await runOne();
  const rounds: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < (seconds * 1000) / 3 || n < 2) {
      await runOne();
      n++;
    }
    rounds.push((performance.now() - t0) / n);
  }
  const ms = rounds.sort((a, b) => a - b)[1];
  return { model: spec.model, dispatch: dispatch ?? "spec", threads, batch, rows_per_s: Math.round((batch * 1000) / ms), step_ms: Number(ms.toFixed(2)) };
}

/** The cesaa_small spec with one more field whose table has `rows` rows. */
export function withBigTable(rows: number): Spec {
  const text = readFileSync(`${root}bench/specs/cesaa_small.mdr`, "utf8").replace("    numeric n0 {}", `    categorical big { range: [0, ${rows - 1}], dim: 16 }\n    numeric n0 {}`);
  const r = compileSpecSource(createSourceFile("big.mdr", text));
  return { ...r.spec!, model: `cesaa_small_table_${rows}` };
}

export async function benchTraining(): Promise<{ rows: TrainingRow[]; summary: Record<string, number> }> {
  const rows: TrainingRow[] = [];
  const log = (r: TrainingRow) => {
    rows.push(r);
    console.log(`  ${r.model.padEnd(28)} ${r.dispatch.padEnd(6)} threads ${r.threads} batch ${String(r.batch).padStart(5)}: ${r.rows_per_s.toLocaleString("en-US").padStart(9)} rows/s (${r.step_ms} ms/step)`);
    return r;
  };
  const examples = ["shared_bottom", "mmoe", "ple", "star", "cesaa"].map((n) => loadSpec(`${root}examples/movielens/${n}.mdr`));
  const small = loadSpec(`${root}bench/specs/cesaa_small.mdr`);
  const wide = loadSpec(`${root}bench/specs/cesaa_wide.mdr`);
  for (const threads of [1, 2]) {
    for (const spec of [...examples, small, wide]) {
      const modes: (DispatchMode | undefined)[] = spec.gates.some((g) => g.type === "topk") ? ["sparse", "dense"] : [undefined];
      for (const mode of modes) for (const batch of [512, 4096]) log(await measureTraining(spec, mode, batch, threads));
    }
  }
  const find = (model: string, dispatch: string, threads: number, batch: number) => rows.find((r) => r.model === model && r.dispatch === dispatch && r.threads === threads && r.batch === batch)!;
  // Same multiply-adds as forward + backward (≈ 3× forward) in plain MatMul, batch 4,096, one thread.
  const macs = 3 * costReport(resolve(small)).domains[0].activatedMacs;
  const raw = rawMatmulModel(macs);
  const rawSession = await ort.InferenceSession.create(Buffer.from(raw.bytes), { intraOpNumThreads: 1 });
  const rawRowsPerS = Math.round(4096 / (await timeRuns(rawSession, raw.feeds(4096), 1)));
  const small10k = log(await measureTraining(withBigTable(10_000), "sparse", 512, 1));
  const big1m = log(await measureTraining(withBigTable(1_000_000), "sparse", 512, 1));
  // Peak memory: a 10^6 × 16 table with Adam holds 3 × 64 MB (values, m, v); the whole process must stay under 3× that.
  const peak = (rows: number) => JSON.parse(execFileSync(process.execPath, [`${root}dist/bench/memory-child.js`, String(rows)], { encoding: "utf8" })).max_rss_bytes as number;
  const peakBig = peak(1_000_000);
  const peakSmall = peak(10_000);
  const tableBytes = 1_000_000 * 16 * 4 * 3;
  const summary = {
    cesaa_small_sparse_train_rows_per_s_b4096_t1: find("cesaa_small", "sparse", 1, 4096).rows_per_s,
    cesaa_small_dense_train_rows_per_s_b4096_t1: find("cesaa_small", "dense", 1, 4096).rows_per_s,
    pytorch_reference_sparse_rows_per_s: 75_000,
    ratio_to_pytorch_sparse: Number((find("cesaa_small", "sparse", 1, 4096).rows_per_s / 75_000).toFixed(2)),
    raw_matmul_3x_forward_rows_per_s_b4096_t1: rawRowsPerS,
    ratio_to_raw_matmul: Number((find("cesaa_small", "sparse", 1, 4096).rows_per_s / rawRowsPerS).toFixed(2)),
    step_ms_table_1e4_b512: small10k.step_ms,
    step_ms_table_1e6_b512: big1m.step_ms,
    step_time_ratio_1e6_over_1e4: Number((big1m.step_ms / small10k.step_ms).toFixed(2)),
    peak_rss_mb_table_1e6: Math.round(peakBig / 2 ** 20),
    peak_rss_mb_table_1e4: Math.round(peakSmall / 2 ** 20),
    table_and_adam_state_mb_1e6: Math.round(tableBytes / 2 ** 20),
    peak_rss_over_table_and_state_1e6: Number((peakBig / tableBytes).toFixed(2)),
    // What the 10^6-row table adds over a 10^4-row one (untouched optimizer-state pages stay virtual).
    extra_peak_rss_mb_for_1e6_table: Math.round((peakBig - peakSmall) / 2 ** 20),
  };
  return { rows, summary };
}
