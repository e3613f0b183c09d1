import { availableParallelism } from "node:os";
import { join } from "node:path";
import { UserError } from "../diagnostics/errors.js";
import { compileTrainStep } from "../compiler/train-step.js";
import type { ModelData } from "../plan/model-data.js";
import type { Spec } from "../spec/types.js";
import type { Checkpoint } from "./checkpoint.js";
import { initialState, latestCheckpoint, positionOf, restore, RUN_START } from "./checkpoint-layout.js";
import { checkEvaluationFile, summarizeTrainingData, type DataSummary } from "./data-stats.js";
import { makeFolder, withSignalGuard } from "./output.js";
import { inspectRunFolder, keepMetricsUpTo, keepTrainLogUpTo, removeRun, resumeConflicts, takeRunFolder, writeRunRecord, type FolderMode, type RunRecord } from "./run-folder.js";
import { createSession } from "./session.js";
import { NonFiniteLoss } from "./step-runner.js";
import { firstEpochAhead, TrainingLoop } from "./train-loop.js";
import type { EvaluationRecord, TrainOptions, TrainResult } from "./train-options.js";

export type { EvaluationRecord, Progress, TrainOptions, TrainResult } from "./train-options.js";

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

/**
 * ONNX Runtime's own default is a thread per core, but the batch worker reads and encodes the next batches
 * on one of them beside the step: the step takes the others (at least one). On a 2-core machine one step
 * thread trained MovieLens' CESAA 15% faster than two, and a model of 7× the multiply-adds within 2% as fast.
 */
export const trainingThreads = (): number => Math.max(1, availableParallelism() - 1);

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
  const t0 = performance.now();
  const summary = await summarizeTrainingData(spec, options.train);
  const validRows = options.valid ? await checkEvaluationFile(spec, options.valid) : 0;
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  log(`checked ${summary.rows + summary.skipped} rows of ${options.train}${options.valid ? ` and ${validRows} of ${options.valid}` : ""} in ${seconds} s`);
  if (!options.valid) log(`no --valid file: early stopping is off; training runs all ${t.epochs} epochs and keeps the last`);

  const folder = takeRunFolder(out, mode);
  try {
    return await trainInFolder({ ...options, threads: options.threads ?? trainingThreads() }, spec, summary, folder.record, log);
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
  const { data, resumeFrom } = startingPoint(options, spec, summary, record, log);
  const step = compileTrainStep(spec, { data, dispatch: options.dispatch });
  // The first epoch's worker fills its shuffle buffer while the weights and the session are made.
  const ahead = firstEpochAhead({ options, spec, step, data }, resumeFrom ? positionOf(resumeFrom.checkpoint) : RUN_START);
  try {
    const state = initialState(spec, step, data);
    const history: EvaluationRecord[] = [];
    if (resumeFrom) {
      restore(state, resumeFrom.checkpoint, resumeFrom.path, spec, step.signature.slots);
      history.push(...keepMetricsUpTo(join(options.out, "metrics.jsonl"), state));
      keepTrainLogUpTo(options.out, state);
      log(`resumed from ${resumeFrom.path} (epoch ${state.epoch + 1}, step ${state.step})`);
    }
    const session = await createSession(step.model, { ep: options.ep, threads: options.threads, shapesVary: true });
    makeFolder(join(options.out, "checkpoints"));
    return await withSignalGuard(() => new TrainingLoop({ options, spec, summary, data, step, session, state, history, log, ahead }).run());
  } finally {
    ahead?.cancel(); // taken by the loop, or never used
  }
}

