import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UserError } from "../diagnostics/errors.js";
import { compileInference } from "../compiler/inference.js";
import { compileTrainStep } from "../compiler/train-step.js";
import type { DispatchMode } from "../graph/dispatch.js";
import type { ModelData } from "../plan/model-data.js";
import type { Spec } from "../spec/types.js";
import { DataError } from "./cells.js";
import type { Checkpoint } from "./checkpoint.js";
import { initialState, latestCheckpoint, restore, saveCheckpoint, weightsOf, type TrainerState } from "./checkpoint-layout.js";
import { rowChecker, summarizeTrainingData, type DataSummary } from "./data-stats.js";
import type { EvaluationMetrics } from "./metrics.js";
import { checkInterrupted, Interrupted, makeFolder, withSignalGuard, writeFilesAtomic } from "./output.js";
import { openRows } from "./readers.js";
import { inspectRunFolder, removeRun, resumeConflicts, takeRunFolder, writeRunRecord, type FolderMode, type RunRecord } from "./run-folder.js";
import { checkColumns, labelRow, type LabelledRow } from "./rows.js";
import { evaluateFile } from "./scoring.js";
import { createSession, type ExecutionProvider } from "./session.js";
import { bufferedShuffle } from "./shuffle.js";
import { NonFiniteLoss, runTrainStep } from "./step-runner.js";

export interface TrainOptions {
  spec: Spec;
  train: string;
  valid?: string;
  out: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  checkpointEvery?: number;
  ep?: ExecutionProvider;
  threads?: number;
  resume?: boolean;
  /** Replace the run already in `out` (its files only). */
  overwrite?: boolean;
  dispatch?: DispatchMode;
  /** Also evaluate every this many steps (0: only after each epoch). */
  evalEvery?: number;
  /** Checkpoints kept besides the best one. */
  keepCheckpoints?: number;
  shuffleBuffer?: number;
  progress?: (p: Progress) => void;
  log?: (line: string) => void;
  /** Stop (as if interrupted) after this many steps of this run: for tests of resuming. */
  stopAfterSteps?: number;
}

export interface Progress {
  epoch: number;
  epochs: number;
  rowsDone: number;
  rowsTotal: number;
  rowsPerSecond: number;
  loss: number;
}

export interface EvaluationRecord extends EvaluationMetrics {
  epoch: number;
  step: number;
  /** An evaluation at an epoch's end, or every --eval-every steps. */
  at: "epoch" | "step";
  train_loss: number;
}

export interface TrainResult {
  best?: EvaluationRecord;
  history: EvaluationRecord[];
  steps: number;
  epochsRun: number;
  stoppedEarly: boolean;
  rowsPerSecond: number;
  /** Share of the wall time of training steps spent inside ONNX Runtime. */
  ortShare: number;
  skippedRows: number;
}

/** Effective training settings: the spec's, overridden by flags. */
export function effectiveSpec(spec: Spec, o: Pick<TrainOptions, "epochs" | "batchSize" | "lr" | "seed" | "checkpointEvery">): Spec {
  const s = structuredClone(spec);
  if (o.epochs !== undefined) s.train.epochs = o.epochs;
  if (o.batchSize !== undefined) s.train.batch_size = o.batchSize;
  if (o.lr !== undefined) {
    if (s.train.embedding_lr === s.train.lr) s.train.embedding_lr = o.lr;
    s.train.lr = o.lr;
  }
  if (o.seed !== undefined) s.train.seed = o.seed;
  if (o.checkpointEvery !== undefined) s.train.checkpoint_every = o.checkpointEvery;
  return s;
}

/** Trains a spec on a data file with the compiled train-step graph; see `mdr train`. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const spec = effectiveSpec(options.spec, options);
  const log = options.log ?? (() => {});
  const t = spec.train;
  const out = options.out;
  const mode: FolderMode = options.resume ? "resume" : options.overwrite ? "overwrite" : "fresh";
  if (options.resume && options.overwrite) throw new UserError("--resume and --overwrite contradict each other; choose one");

  // Everything is checked before anything is written: the folder, then every row of every input file.
  inspectRunFolder(out, mode);
  const summary = await summarizeTrainingData(spec, options.train);
  if (options.valid) await checkFile(spec, options.valid);
  if (!options.valid) log(`no --valid file: early stopping is off; training runs all ${t.epochs} epochs and keeps the last`);

  const folder = takeRunFolder(out, mode);
  try {
    return await trainInFolder(options, spec, summary, folder.record, log);
  } catch (e) {
    // A run that failed before its first checkpoint leaves nothing behind; otherwise the checkpoints stay.
    const last = latestCheckpoint(join(out, "checkpoints")).path;
    if (!last && !options.resume) removeRun(out);
    if (e instanceof NonFiniteLoss) {
      throw new UserError(`${e.message}. ${last ? `The last checkpoint, ${last}, is intact: continue from it with --resume and a lower --lr` : "Nothing was saved"}`, 1);
    }
    throw e;
  } finally {
    folder.release();
  }
}

/**
 * Where a run starts: for `--resume`, the newest readable checkpoint of the run recorded in the folder
 * (refused when the spec or shaping flags changed, or when only unreadable checkpoints are there); for a
 * new run, its record is written.
 */
function startingPoint(options: TrainOptions, spec: Spec, summary: DataSummary, record: RunRecord | undefined, log: (l: string) => void): { data: ModelData; resumeFrom?: { path: string; checkpoint: Checkpoint } } {
  const out = options.out;
  const ckptDir = join(out, "checkpoints");
  let data = summary.data;
  let resumeFrom: { path: string; checkpoint: Checkpoint } | undefined;
  if (options.resume) {
    if (record) {
      const conflicts = resumeConflicts(record.spec, spec);
      if (conflicts.length) {
        throw new UserError(`cannot resume: the spec or flags differ from the run in ${out} (${conflicts.slice(0, 5).join("; ")}${conflicts.length > 5 ? "; …" : ""}); use the original ones, or start over with --overwrite`);
      }
    }
    const found = latestCheckpoint(ckptDir);
    for (const s of found.damaged) log(`warning: ${s.file} is unreadable (${s.reason}); skipping it`);
    if (found.path && found.checkpoint) {
      resumeFrom = { path: found.path, checkpoint: found.checkpoint };
      data = JSON.parse(found.checkpoint.metadata.model_data) as ModelData;
    } else if (found.damaged.length) {
      throw new UserError(`cannot resume: no checkpoint in ${ckptDir} is readable (${found.damaged.map((d) => `${d.file}: ${d.reason}`).join("; ")}); start over with --overwrite`, 1);
    } else if (record) {
      log(`no checkpoint yet in ${ckptDir}; starting the run from the beginning`);
    } else {
      log(`nothing to resume in ${out}; starting a new run`);
    }
  }
  if (!resumeFrom) {
    writeRunRecord(out, { spec, data: options.train, ...(options.valid ? { valid: options.valid } : {}), started: new Date().toISOString() });
  }
  return { data, resumeFrom };
}

async function trainInFolder(options: TrainOptions, spec: Spec, summary: DataSummary, record: RunRecord | undefined, log: (l: string) => void): Promise<TrainResult> {
  const t = spec.train;
  const out = options.out;
  const ckptDir = join(out, "checkpoints");
  const { data, resumeFrom } = startingPoint(options, spec, summary, record, log);
  const step = compileTrainStep(spec, { data, dispatch: options.dispatch });
  const session = await createSession(step.model, { ep: options.ep, threads: options.threads });
  const sig = step.signature;
  const state = initialState(spec, step, data);
  const history: EvaluationRecord[] = [];
  if (resumeFrom) {
    restore(state, resumeFrom.checkpoint, resumeFrom.path, spec, sig.slots);
    history.push(...keepMetricsUpTo(join(out, "metrics.jsonl"), state));
    log(`resumed from ${resumeFrom.path} (epoch ${state.epoch + 1}, step ${state.step})`);
  }
  makeFolder(ckptDir);

  const metricName = t.early_stopping.metric;
  const score = (m: EvaluationMetrics) => (metricName === "auc" ? m.overall.auc : metricName === "mean_domain_auc" ? m.mean_domain_auc : -m.overall.logloss);
  const evaluateNow = async (trainLoss: number, at: "step" | "epoch"): Promise<EvaluationRecord | undefined> => {
    if (!options.valid) return undefined;
    const { files, manifest } = compileInference(spec, { data, weights: weightsOf(state) });
    const s = await createSession(files["model.onnx"], { threads: options.threads });
    const m = await evaluateFile(s, manifest, spec, options.valid);
    const record: EvaluationRecord = { epoch: state.epoch + 1, step: state.step, at, train_loss: trainLoss, ...m };
    appendFileSync(join(out, "metrics.jsonl"), JSON.stringify(record) + "\n");
    history.push(record);
    return record;
  };

  let rowsSeen = 0;
  let ortMs = 0;
  const started = performance.now();
  let stoppedEarly = false;
  let stepsThisRun = 0;
  const keep = options.keepCheckpoints ?? 2;

  await withSignalGuard(async () => {
    while (state.epoch < t.epochs) {
      const source = openRows(options.train, { positions: false }); // validated by the first pass
      checkColumns(spec, await source.columns(), options.train);
      const stream = bufferedShuffle(source.rows(), options.shuffleBuffer ?? 200_000, t.seed, `shuffle-epoch${state.epoch}`);
      let batch: LabelledRow[] = [];
      let batchIndex = 0;
      let rowsInEpoch = 0;
      let lossSum = 0;
      let lossRows = 0;
      // A step evaluation runs before the next step, so the one due at an epoch's last step is the epoch's own.
      let evaluationDue = false;
      const runBatch = async () => {
        rowsInEpoch += batch.length;
        if (batchIndex++ < state.batchInEpoch) return; // already trained on before the interruption
        if (evaluationDue) {
          evaluationDue = false;
          const r = await evaluateNow(lossSum / lossRows, "step");
          if (r) log(`step ${r.step}: train loss ${r.train_loss.toFixed(4)}, valid ${metricName} ${Math.abs(score(r)).toFixed(4)}`);
        }
        state.step++;
        const { loss, ortMs: ms } = await runTrainStep(session, spec, step, state, {
          rows: batch, domains: batch.map((r) => r.domain), labels: Float32Array.from(batch, (r) => r.label),
          lr: t.lr, embeddingLr: t.embedding_lr, step: state.step, seed: (t.seed * 7919 + state.step) % 16_000_000, file: options.train,
        }).catch((e) => {
          state.step--;
          throw e;
        });
        ortMs += ms;
        lossSum += loss * batch.length;
        lossRows += batch.length;
        rowsSeen += batch.length;
        state.batchInEpoch = batchIndex;
        stepsThisRun++;
        const elapsed = (performance.now() - started) / 1000;
        options.progress?.({ epoch: state.epoch + 1, epochs: t.epochs, rowsDone: rowsInEpoch, rowsTotal: summary.rows, rowsPerSecond: rowsSeen / Math.max(elapsed, 1e-9), loss: lossSum / lossRows });
        if (options.evalEvery && state.step % options.evalEvery === 0) evaluationDue = true;
        let interrupted = options.stopAfterSteps !== undefined && stepsThisRun >= options.stopAfterSteps;
        try {
          checkInterrupted();
        } catch {
          interrupted = true;
        }
        if (interrupted) {
          const path = saveCheckpoint(state, ckptDir, spec, data, keep);
          throw new Interrupted(`interrupted at step ${state.step}; saved ${path} — continue with --resume`);
        }
        if (t.checkpoint_every > 0 && state.step % t.checkpoint_every === 0) saveCheckpoint(state, ckptDir, spec, data, keep);
      };
      for await (const row of stream) {
        const labelled = labelRow(spec, row, options.train);
        if (!labelled) continue;
        batch.push(labelled);
        if (batch.length === t.batch_size) {
          await runBatch();
          batch = [];
        }
      }
      if (batch.length) await runBatch();
      const trainLoss = lossRows ? lossSum / lossRows : NaN;
      const record = await evaluateNow(trainLoss, "epoch");
      state.epoch++;
      state.batchInEpoch = 0;
      const value = record ? score(record) : state.epoch; // without validation data the last epoch is the best
      if (value > state.bestScore) {
        state.bestScore = value;
        state.bestEpoch = state.epoch;
        state.badEpochs = 0;
        writeBestModel(out, spec, data, state);
        saveCheckpoint(state, ckptDir, spec, data, keep, "best.safetensors");
      } else {
        state.badEpochs++;
      }
      saveCheckpoint(state, ckptDir, spec, data, keep);
      if (record) log(`epoch ${state.epoch}: train loss ${trainLoss.toFixed(4)}, valid ${metricName} ${Math.abs(value).toFixed(4)}${state.bestEpoch === state.epoch ? " (best)" : ""}`);
      if (options.valid && state.badEpochs >= t.early_stopping.patience && state.epoch < t.epochs) {
        log(`early stopping: ${metricName} has not improved for ${state.badEpochs} epoch(s)`);
        stoppedEarly = true;
        break;
      }
    }
  });
  const wall = (performance.now() - started) / 1000;
  const best = history.filter((h) => h.epoch === state.bestEpoch && h.at !== "step").pop();
  return {
    ...(best ? { best } : {}), history, steps: state.step, epochsRun: state.epoch, stoppedEarly,
    rowsPerSecond: rowsSeen / Math.max(wall, 1e-9), ortShare: ortMs / 1000 / Math.max(wall, 1e-9), skippedRows: summary.skipped,
  };
}

/**
 * On resume, metrics.jsonl keeps only the records the checkpoint covers; later ones (written after it,
 * before the interruption) would be written again.
 */
function keepMetricsUpTo(path: string, state: TrainerState): EvaluationRecord[] {
  if (!existsSync(path)) return [];
  const records = readFileSync(path, "utf8").split("\n").filter((l) => l.trim()).flatMap((l) => {
    try {
      return [JSON.parse(l) as EvaluationRecord];
    } catch {
      return []; // a line cut short by a crash
    }
  });
  const covered = (r: EvaluationRecord) => r.step < state.step || (r.step === state.step && (r.at === "step" || r.epoch <= state.epoch));
  const kept = records.filter(covered);
  writeFilesAtomic(dirname(path), { [basename(path)]: kept.map((r) => JSON.stringify(r) + "\n").join("") });
  return kept;
}

async function checkFile(spec: Spec, file: string): Promise<void> {
  const source = openRows(file);
  checkColumns(spec, await source.columns(), file);
  const check = rowChecker(spec, file);
  let rows = 0;
  for await (const row of source.rows()) if (check(row)) rows++;
  if (rows === 0) throw new DataError(file, 1, undefined, "has no rows to evaluate on");
}

function writeBestModel(out: string, spec: Spec, data: ModelData, state: TrainerState): void {
  const { files, manifest } = compileInference(spec, { data, weights: weightsOf(state) });
  writeFilesAtomic(out, { ...files, "manifest.json": JSON.stringify(manifest, null, 2) + "\n" });
}
