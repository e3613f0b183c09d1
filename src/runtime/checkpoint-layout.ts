import { existsSync, linkSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { specHash } from "../compiler/inference.js";
import type { CompiledTrainStep } from "../compiler/train-step.js";
import { UserError } from "../diagnostics/errors.js";
import { embeddingSlot, embeddingTable } from "../graph/names.js";
import type { ModelData } from "../plan/model-data.js";
import type { Spec } from "../spec/types.js";
import { CheckpointError, readCheckpoint, writeCheckpoint, type Checkpoint, type CheckpointTensor } from "./checkpoint.js";
import { tempPathFor } from "./output.js";
import { resumeConflicts } from "./run-folder.js";
import { initialStepState, type StepState } from "./step-runner.js";

// The checkpoint layout of a training run: which tensors and metadata a checkpoint holds, how training
// state is saved into one and restored from it, and which checkpoint a resumed run starts from.

export interface TrainerState extends StepState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  bestScore: number;
  bestEpoch: number;
  badEpochs: number;
}

/** Parameters, state and full embedding tables by their inference-graph names. */
export function weightsOf(state: TrainerState): Map<string, Float32Array> {
  const w = new Map(state.params);
  for (const t of state.store.tables.values()) w.set(embeddingTable(t.name), t.values);
  return w;
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
export function checkpointOf(state: TrainerState, spec: Spec, data: ModelData): Checkpoint {
  const tensors = new Map<string, CheckpointTensor>();
  for (const [k, v] of state.params) tensors.set(k, { shape: [v.length], data: v });
  for (const [k, v] of state.slots) tensors.set(k, { shape: [v.length], data: v });
  for (const t of state.store.tables.values()) {
    tensors.set(embeddingTable(t.name), { shape: [t.rows, t.dim], data: t.values });
    t.slots.forEach((s, i) => tensors.set(embeddingSlot(t.name, i), { shape: [t.rows, t.dim], data: s }));
  }
  const metadata = {
    spec_sha256: specHash(spec), spec: JSON.stringify(spec),
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

export function initialState(spec: Spec, step: CompiledTrainStep, data: ModelData): TrainerState {
  return { ...initialStepState(spec, step, data), ...RUN_START, bestScore: -Infinity, bestEpoch: -1, badEpochs: 0 };
}

export function saveCheckpoint(state: TrainerState, dir: string, spec: Spec, data: ModelData, keep: number, name?: string): string {
  const path = join(dir, name ?? checkpointName(state.step));
  writeCheckpoint(path, checkpointOf(state, spec, data));
  if (!name) prune(dir, keep);
  return path;
}

/**
 * The checkpoints at an epoch's end: the epoch's own and, when the epoch is the best so far,
 * `best.safetensors`. Those two hold the same bytes, so the epoch's is a second name (a hard link) of the
 * best one where the file system allows: half the writing and half the disk. The best one is written
 * first, so a crash between the two leaves the run resumable from the epoch before, as it always was; a
 * later best replaces its file (a new one renamed over it), which leaves the epoch's as it was.
 */
export function saveEpochCheckpoints(state: TrainerState, dir: string, spec: Spec, data: ModelData, keep: number, best: boolean): void {
  if (!best) {
    saveCheckpoint(state, dir, spec, data, keep);
    return;
  }
  const bestPath = saveCheckpoint(state, dir, spec, data, keep, "best.safetensors");
  if (!linkInPlace(bestPath, join(dir, checkpointName(state.step)))) saveCheckpoint(state, dir, spec, data, keep);
  else prune(dir, keep);
}

/** `to` becomes another name of `from`, atomically; false where the file system has no hard links. */
function linkInPlace(from: string, to: string): boolean {
  const tmp = tempPathFor(to);
  try {
    rmSync(tmp, { force: true });
    linkSync(from, tmp);
    renameSync(tmp, to);
    return true;
  } catch {
    rmSync(tmp, { force: true });
    return false;
  }
}

/** Keeps the newest `keep` step checkpoints. */
function prune(dir: string, keep: number): void {
  const all = readdirSync(dir).filter((f) => /^ckpt-\d+\.safetensors$/.test(f)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(dir, old), { force: true });
}

/**
 * The newest readable checkpoint (read and verified once: tables can be large), and the newer ones that
 * could not be read (cut short or damaged).
 */
export function latestCheckpoint(dir: string): { path?: string; checkpoint?: Checkpoint; damaged: { file: string; reason: string }[] } {
  const damaged: { file: string; reason: string }[] = [];
  if (!existsSync(dir)) return { damaged };
  const all = readdirSync(dir).filter((f) => /^ckpt-\d+\.safetensors$/.test(f)).sort().reverse();
  for (const f of all) {
    try {
      const checkpoint = readCheckpoint(join(dir, f));
      return { path: join(dir, f), checkpoint, damaged };
    } catch (e) {
      damaged.push({ file: join(dir, f), reason: e instanceof CheckpointError ? e.message.replace(`${join(dir, f)} `, "").replace(`${join(dir, f)}: `, "") : (e as Error).message });
    }
  }
  return { damaged };
}

/** Where a run is: its last step, its epoch (0-based) and the batches of that epoch done. */
export interface RunPosition {
  step: number;
  epoch: number;
  batchInEpoch: number;
}

/** Where a new run starts. */
export const RUN_START: Readonly<RunPosition> = { step: 0, epoch: 0, batchInEpoch: 0 };

/** Where the run a checkpoint was saved from stood. */
export function positionOf(ckpt: Checkpoint): RunPosition {
  const m = ckpt.metadata;
  return { step: Number(m.step), epoch: Number(m.epoch), batchInEpoch: Number(m.batch_in_epoch) };
}

export function restore(state: TrainerState, ckpt: Checkpoint, path: string, spec: Spec, slots: string[]): void {
  const recorded = ckpt.metadata.spec ? (JSON.parse(ckpt.metadata.spec) as Spec) : undefined;
  const conflicts = recorded ? resumeConflicts(recorded, spec) : ckpt.metadata.spec_sha256 === specHash(spec) ? [] : ["the spec"];
  if (conflicts.length) {
    throw new UserError(`cannot resume from ${path}: it was written with another spec or flags (${conflicts.slice(0, 5).join("; ")}); use the original ones, or start over with --overwrite`);
  }
  // Into the arrays in place: trainable parameters and their slots are views of one buffer each.
  for (const [k, v] of state.params) v.set(take(ckpt.tensors, k, v.length, path));
  for (const [k, v] of state.slots) v.set(take(ckpt.tensors, k, v.length, path));
  for (const t of state.store.tables.values()) {
    t.values = take(ckpt.tensors, embeddingTable(t.name), t.values.length, path);
    t.slots = slots.map((_, i) => take(ckpt.tensors, embeddingSlot(t.name, i), t.values.length, path));
  }
  const m = ckpt.metadata;
  Object.assign(state, positionOf(ckpt));
  state.bestScore = Number(m.best_score);
  state.bestEpoch = Number(m.best_epoch);
  state.badEpochs = Number(m.bad_epochs);
}

function take(tensors: Map<string, CheckpointTensor>, name: string, length: number, path: string): Float32Array {
  const t = tensors.get(name);
  if (!t || t.data.length !== length) throw new CheckpointError(`${path} has no tensor ${name} of ${length} values; it belongs to another model`);
  return t.data;
}
