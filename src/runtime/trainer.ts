import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { compileInference, specHash } from "../compiler/inference.js";
import { compileTrainStep, type CompiledTrainStep } from "../compiler/train-step.js";
import type { DispatchMode } from "../graph/dispatch.js";
import type { ModelData } from "../graph/model-data.js";
import type { Spec } from "../spec/types.js";
import { readCheckpoint, writeCheckpoint, type Checkpoint, type CheckpointTensor } from "./checkpoint.js";
import { summarizeTrainingData } from "./data-stats.js";
import type { EvaluationMetrics } from "./metrics.js";
import { checkInterrupted, Interrupted, withSignalGuard, writeFilesAtomic } from "./output.js";
import { openRows } from "./readers.js";
import { checkColumns, labelRow, type LabelledRow } from "./rows.js";
import { evaluateFile } from "./scoring.js";
import { createSession, type ExecutionProvider } from "./session.js";
import { bufferedShuffle } from "./shuffle.js";
import { initialStepState, runTrainStep, type StepState } from "./step-runner.js";

export interface TrainOptions {
  spec: Spec;
  train: string;
  valid?: string;
  out: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  ep?: ExecutionProvider;
  threads?: number;
  resume?: boolean;
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

interface TrainerState extends StepState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  bestScore: number;
  bestEpoch: number;
  badEpochs: number;
}

/** Effective training settings: the spec's, overridden by flags. */
export function effectiveSpec(spec: Spec, o: Pick<TrainOptions, "epochs" | "batchSize" | "lr" | "seed">): Spec {
  const s = structuredClone(spec);
  if (o.epochs !== undefined) s.train.epochs = o.epochs;
  if (o.batchSize !== undefined) s.train.batch_size = o.batchSize;
  if (o.lr !== undefined) {
    if (s.train.embedding_lr === s.train.lr) s.train.embedding_lr = o.lr;
    s.train.lr = o.lr;
  }
  if (o.seed !== undefined) s.train.seed = o.seed;
  return s;
}

/** Trains a spec on a data file with the compiled train-step graph; see `mdr train`. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const spec = effectiveSpec(options.spec, options);
  const log = options.log ?? (() => {});
  const t = spec.train;
  const ckptDir = join(options.out, "checkpoints");

  // Everything about the data is checked before anything is written.
  const summary = await summarizeTrainingData(spec, options.train);
  if (summary.rows === 0) throw new Error(`${options.train} has no rows to train on`);
  if (options.valid) await checkFile(spec, options.valid);
  let data = summary.data;
  let resumeFrom: string | undefined;
  if (options.resume) {
    resumeFrom = latestCheckpoint(ckptDir);
    if (resumeFrom) data = JSON.parse(readCheckpoint(resumeFrom).metadata.model_data) as ModelData;
    else log("no checkpoint to resume from; starting fresh");
  }

  const step = compileTrainStep(spec, { data, dispatch: options.dispatch });
  const session = await createSession(step.model, { ep: options.ep, threads: options.threads });
  const sig = step.signature;
  const state = initialState(spec, step, data);
  const history: EvaluationRecord[] = [];
  if (resumeFrom) {
    restore(state, resumeFrom, spec, sig.slots);
    log(`resumed from ${resumeFrom} (epoch ${state.epoch + 1}, step ${state.step})`);
  }
  mkdirSync(ckptDir, { recursive: true });

  const metricName = t.early_stopping.metric;
  const score = (m: EvaluationMetrics) => (metricName === "auc" ? m.overall.auc : metricName === "mean_domain_auc" ? m.mean_domain_auc : -m.overall.logloss);
  const evaluateNow = async (trainLoss: number): Promise<EvaluationRecord | undefined> => {
    if (!options.valid) return undefined;
    const { files, manifest } = compileInference(spec, { data, weights: weightsOf(state) });
    const s = await ort.InferenceSession.create(Buffer.from(files["model.onnx"]), options.threads ? { intraOpNumThreads: options.threads } : {});
    const m = await evaluateFile(s, manifest, spec, options.valid);
    const record: EvaluationRecord = { epoch: state.epoch + 1, step: state.step, train_loss: trainLoss, ...m };
    appendFileSync(join(options.out, "metrics.jsonl"), JSON.stringify(record) + "\n");
    history.push(record);
    return record;
  };

  let rowsSeen = 0;
  let ortMs = 0;
  const started = performance.now();
  let stoppedEarly = false;
  let stepsThisRun = 0;
  const totalRows = summary.rows * t.epochs;

  await withSignalGuard(async () => {
    while (state.epoch < t.epochs) {
      const source = openRows(options.train, { positions: false }); // validated by the first pass
      checkColumns(spec, await source.columns(), options.train);
      const stream = bufferedShuffle(source.rows(), options.shuffleBuffer ?? 200_000, t.seed, `shuffle-epoch${state.epoch}`);
      let batch: LabelledRow[] = [];
      let batchIndex = 0;
      let lossSum = 0;
      let lossRows = 0;
      const runBatch = async () => {
        if (batchIndex++ < state.batchInEpoch) return; // already trained on before the interruption
        state.step++;
        const { loss, ortMs: ms } = await runTrainStep(session, spec, step, state, {
          rows: batch, domains: batch.map((r) => r.domain), labels: Float32Array.from(batch, (r) => r.label),
          lr: t.lr, embeddingLr: t.embedding_lr, step: state.step, seed: (t.seed * 7919 + state.step) % 16_000_000, file: options.train,
        });
        ortMs += ms;
        lossSum += loss * batch.length;
        lossRows += batch.length;
        rowsSeen += batch.length;
        state.batchInEpoch = batchIndex;
        stepsThisRun++;
        const elapsed = (performance.now() - started) / 1000;
        options.progress?.({ epoch: state.epoch + 1, epochs: t.epochs, rowsDone: state.epoch * summary.rows + batchIndex * t.batch_size, rowsTotal: totalRows, rowsPerSecond: rowsSeen / Math.max(elapsed, 1e-9), loss: lossSum / lossRows });
        if (options.evalEvery && state.step % options.evalEvery === 0) await evaluateNow(lossSum / lossRows);
        let interrupted = options.stopAfterSteps !== undefined && stepsThisRun >= options.stopAfterSteps;
        try {
          checkInterrupted();
        } catch {
          interrupted = true;
        }
        if (interrupted) {
          const path = saveCheckpoint(state, ckptDir, spec, data, options.keepCheckpoints ?? 2);
          throw new Interrupted(`interrupted at step ${state.step}; saved ${path} — continue with --resume`);
        }
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
      const record = await evaluateNow(trainLoss);
      state.epoch++;
      state.batchInEpoch = 0;
      const value = record ? score(record) : state.epoch; // without validation data the last epoch is the best
      if (value > state.bestScore) {
        state.bestScore = value;
        state.bestEpoch = state.epoch;
        state.badEpochs = 0;
        writeBestModel(options.out, spec, data, state);
        saveCheckpoint(state, ckptDir, spec, data, options.keepCheckpoints ?? 2, "best.safetensors");
      } else {
        state.badEpochs++;
      }
      saveCheckpoint(state, ckptDir, spec, data, options.keepCheckpoints ?? 2);
      if (record) log(`epoch ${state.epoch}: train loss ${trainLoss.toFixed(4)}, valid ${metricName} ${Math.abs(value).toFixed(4)}${state.bestEpoch === state.epoch ? " (best)" : ""}`);
      if (state.badEpochs >= t.early_stopping.patience && state.epoch < t.epochs) {
        log(`early stopping: ${metricName} has not improved for ${state.badEpochs} epoch(s)`);
        stoppedEarly = true;
        break;
      }
    }
  });
  const wall = (performance.now() - started) / 1000;
  const best = history.filter((h) => h.epoch === state.bestEpoch).pop();
  return {
    ...(best ? { best } : {}), history, steps: state.step, epochsRun: state.epoch, stoppedEarly,
    rowsPerSecond: rowsSeen / Math.max(wall, 1e-9), ortShare: ortMs / 1000 / Math.max(wall, 1e-9), skippedRows: summary.skipped,
  };
}

async function checkFile(spec: Spec, file: string): Promise<void> {
  const source = openRows(file);
  checkColumns(spec, await source.columns(), file);
  for await (const row of source.rows()) labelRow(spec, row, file);
}

/** Parameters, state and full embedding tables by their inference-graph names. */
function weightsOf(state: TrainerState): Map<string, Float32Array> {
  const w = new Map(state.params);
  for (const t of state.store.tables.values()) w.set(`embedding.${t.name}.table`, t.values);
  return w;
}

function writeBestModel(out: string, spec: Spec, data: ModelData, state: TrainerState): void {
  const { files, manifest } = compileInference(spec, { data, weights: weightsOf(state) });
  writeFilesAtomic(out, { ...files, "manifest.json": JSON.stringify(manifest, null, 2) + "\n" });
}

function checkpointName(step: number): string {
  return `ckpt-${String(step).padStart(9, "0")}.safetensors`;
}

/**
 * The checkpoint layout: dense parameters and state under their graph names, optimizer slots as
 * `<name>::<slot>`, full embedding tables as `embedding.<table>.table` (the inference initializer names,
 * so a checkpoint loads straight into an inference model) with their slots; training progress and the
 * learned vocabularies and statistics in the metadata.
 */
function checkpointOf(state: TrainerState, spec: Spec, data: ModelData): Checkpoint {
  const tensors = new Map<string, CheckpointTensor>();
  for (const [k, v] of state.params) tensors.set(k, { shape: [v.length], data: v });
  for (const [k, v] of state.slots) tensors.set(k, { shape: [v.length], data: v });
  for (const t of state.store.tables.values()) {
    tensors.set(`embedding.${t.name}.table`, { shape: [t.rows, t.dim], data: t.values });
    t.slots.forEach((s, i) => tensors.set(`embedding.${t.name}.table::slot${i}`, { shape: [t.rows, t.dim], data: s }));
  }
  const metadata = {
    spec_sha256: specHash(spec),
    step: String(state.step), epoch: String(state.epoch), batch_in_epoch: String(state.batchInEpoch),
    best_score: String(state.bestScore), best_epoch: String(state.bestEpoch), bad_epochs: String(state.badEpochs),
    model_data: JSON.stringify(data),
  };
  return { tensors, metadata };
}

/** The starting point of training (what `mdr compile` writes): initial weights, zero optimizer state. */
export function initialCheckpoint(spec: Spec, step: CompiledTrainStep, data: ModelData): Checkpoint {
  return checkpointOf(initialState(spec, step, data), spec, data);
}

/** Weights by inference-graph name from a checkpoint, and the model data it was trained with. */
export function checkpointWeights(ckpt: Checkpoint): { weights: Map<string, Float32Array>; data: ModelData } {
  const weights = new Map<string, Float32Array>();
  for (const [name, t] of ckpt.tensors) if (!name.includes("::")) weights.set(name, t.data);
  return { weights, data: JSON.parse(ckpt.metadata.model_data ?? '{"vocabularies":{},"numeric":{}}') as ModelData };
}

function initialState(spec: Spec, step: CompiledTrainStep, data: ModelData): TrainerState {
  return { ...initialStepState(spec, step, data), step: 0, epoch: 0, batchInEpoch: 0, bestScore: -Infinity, bestEpoch: -1, badEpochs: 0 };
}

function saveCheckpoint(state: TrainerState, dir: string, spec: Spec, data: ModelData, keep: number, name?: string): string {
  const path = join(dir, name ?? checkpointName(state.step));
  writeCheckpoint(path, checkpointOf(state, spec, data));
  if (!name) {
    const all = readdirSync(dir).filter((f) => /^ckpt-\d+\.safetensors$/.test(f)).sort();
    for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(dir, old), { force: true });
  }
  return path;
}

/** The newest complete checkpoint (a damaged newest one is skipped in favour of the one before). */
export function latestCheckpoint(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const all = readdirSync(dir).filter((f) => /^ckpt-\d+\.safetensors$/.test(f)).sort().reverse();
  for (const f of all) {
    try {
      readCheckpoint(join(dir, f));
      return join(dir, f);
    } catch {
      // a checkpoint cut short by a crash: fall back to the previous one
    }
  }
  return undefined;
}

function restore(state: TrainerState, path: string, spec: Spec, slots: string[]): void {
  const ckpt = readCheckpoint(path);
  if (ckpt.metadata.spec_sha256 !== specHash(spec)) {
    throw new Error(`${path} was written for a different spec (or different training flags); remove the output folder or train without --resume`);
  }
  for (const [k, v] of state.params) state.params.set(k, take(ckpt.tensors, k, v.length));
  for (const [k, v] of state.slots) state.slots.set(k, take(ckpt.tensors, k, v.length));
  for (const t of state.store.tables.values()) {
    t.values = take(ckpt.tensors, `embedding.${t.name}.table`, t.values.length);
    t.slots = slots.map((_, i) => take(ckpt.tensors, `embedding.${t.name}.table::slot${i}`, t.values.length));
  }
  const m = ckpt.metadata;
  state.step = Number(m.step);
  state.epoch = Number(m.epoch);
  state.batchInEpoch = Number(m.batch_in_epoch);
  state.bestScore = Number(m.best_score);
  state.bestEpoch = Number(m.best_epoch);
  state.badEpochs = Number(m.bad_epochs);
}

function take(tensors: Map<string, CheckpointTensor>, name: string, length: number): Float32Array {
  const t = tensors.get(name);
  if (!t || t.data.length !== length) throw new Error(`checkpoint has no tensor ${name} of ${length} values`);
  return t.data;
}
