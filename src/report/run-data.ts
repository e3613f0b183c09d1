import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve as resolvePath } from "node:path";
import type { Manifest } from "../compiler/inference.js";
import { compileSpecSource } from "../compiler/frontend.js";
import { createSourceFile } from "../diagnostics/source.js";
import { UserError } from "../diagnostics/errors.js";
import { costReport, type CostReport } from "../plan/cost.js";
import type { ModelData } from "../plan/model-data.js";
import { resolve } from "../plan/resolve.js";
import { stoppingScore } from "../runtime/metrics.js";
import { readJsonLines, RUN_FILE, TRAIN_LOG, type RunRecord } from "../runtime/run-folder.js";
import type { EvaluationRecord } from "../runtime/train-options.js";
import type { RankingMetric, Spec } from "../spec/types.js";

/** Everything a report shows of one training run. */
export interface RunReport {
  name: string;
  folder: string;
  spec: Spec;
  specText: string;
  domains: string[];
  trainLog: { step: number; epoch: number; loss: number; terms: Record<string, number> }[];
  evaluations: EvaluationRecord[];
  /** The evaluation of the kept (best) model. */
  best?: EvaluationRecord;
  cost: CostReport;
}

/** Reads a run folder written by `mdr train`; damaged lines of its logs are skipped, a missing run is an error. */
export function readRun(folder: string): RunReport {
  const runFile = join(folder, RUN_FILE);
  if (!existsSync(runFile)) throw new UserError(`${folder} is not a training run (no ${RUN_FILE}); name a folder written by \`mdr train\``);
  let record: RunRecord;
  try {
    record = JSON.parse(readFileSync(runFile, "utf8")) as RunRecord;
  } catch (e) {
    throw new UserError(`${runFile} is not valid JSON: ${(e as Error).message}`);
  }
  const spec = recordedSpec(record, runFile);
  const evaluations = readJsonLines<EvaluationRecord>(join(folder, "metrics.jsonl")).filter((r) => wellFormed(r, spec.domain.values));
  const trainLog = readJsonLines<RunReport["trainLog"][number]>(join(folder, TRAIN_LOG))
    .filter((r) => isRecord(r) && typeof r.step === "number" && Number.isFinite(r.loss) && isRecord(r.terms) && Object.values(r.terms).every((v) => typeof v === "number"));
  const best = bestEvaluation(spec, evaluations);
  return {
    name: spec.model === basename(resolvePath(folder)) ? spec.model : `${basename(resolvePath(folder))} (${spec.model})`,
    folder, spec, specText: JSON.stringify(spec, null, 2), domains: spec.domain.values, trainLog, evaluations, ...(best ? { best } : {}),
    cost: costReport(resolve(spec, { data: modelData(folder) })),
  };
}

/** The spec recorded in run.json, checked by the front end like any spec (a damaged record is an error, not a crash). */
function recordedSpec(record: RunRecord, runFile: string): Spec {
  if (!isRecord(record) || !isRecord(record.spec)) throw new UserError(`${runFile} has no spec; was it written by \`mdr train\`?`);
  const checked = compileSpecSource(createSourceFile("run.json", JSON.stringify(record.spec)));
  const error = checked.diagnostics.find((d) => d.severity === "error");
  if (checked.retrieval) throw new UserError(`${runFile}: ${dirname(runFile)} is a retrieval run, which \`mdr report\` does not draw yet; its metrics.jsonl holds recall and NDCG per epoch, and \`mdr eval\` prints them for any file`);
  if (!checked.spec || error) throw new UserError(`${runFile}: the recorded spec is not valid (${error?.message ?? "it does not compile"}); was the file edited?`);
  return checked.spec;
}

/** An evaluation line the page can draw: metrics per domain and, if present, router statistics of the right shape. */
function wellFormed(r: EvaluationRecord, domains: string[]): boolean {
  const metrics = (m: unknown) => isRecord(m) && typeof m.auc === "number" && typeof m.logloss === "number" && typeof m.rows === "number";
  if (!isRecord(r) || typeof r.step !== "number" || typeof r.epoch !== "number" || !metrics(r.overall) || !isRecord(r.domains)) return false;
  if (!Object.values(r.domains).every(metrics)) return false;
  if (r.routers === undefined) return true;
  return isRecord(r.routers) && Object.values(r.routers).every((g) => isRecord(g) && Array.isArray(g.usage) && g.usage.length === domains.length &&
    g.usage.every((row) => Array.isArray(row) && row.length === g.usage[0].length && row.every((v) => typeof v === "number")) &&
    (g.mutual_information === null || typeof g.mutual_information === "number") && typeof g.domain_entropy === "number" && typeof g.load_balance === "number");
}

function isRecord(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The epoch evaluation of the model the run kept: the first epoch with the best score, as the trainer chose it. */
function bestEvaluation(spec: Spec, evaluations: EvaluationRecord[]): EvaluationRecord | undefined {
  const metric = spec.train.early_stopping.metric;
  const score = (m: EvaluationRecord) => stoppingScore(metric as RankingMetric, m);
  let best: EvaluationRecord | undefined;
  for (const e of evaluations) if (e.at !== "step" && (!best || score(e) > score(best))) best = e;
  return best;
}

function modelData(folder: string): ModelData | undefined {
  const manifestPath = join(folder, "manifest.json");
  if (!existsSync(manifestPath)) return undefined;
  try {
    const m = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
    // Table rows of learned vocabularies, as the manifest records them.
    const vocabularies: ModelData["vocabularies"] = {};
    for (const f of m.features ?? []) if (f.vocabulary !== undefined) vocabularies[f.name] = new Array<string>(f.vocabulary).fill("");
    return { vocabularies, numeric: m.numeric ?? {} };
  } catch {
    return undefined;
  }
}
