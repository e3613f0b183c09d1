import ort from "onnxruntime-node";
import { UserError } from "../diagnostics/errors.js";
import type { CompiledTrainStep } from "../compiler/train-step.js";
import type { ModelData } from "../plan/model-data.js";
import type { Spec } from "../spec/types.js";
import type { RawRow } from "./batch.js";
import { EmbeddingStore } from "./embedding-store.js";
import { encodeTrainBatch, scatterRows, type TrainBatch } from "./train-batch.js";
import { DENSE_PARAMETERS, lossTermOutput, SEED_INPUT, slotName, updated } from "../graph/names.js";
import { sizeOf } from "../graph/tensor.js";

/** Training diverged: the step's loss is NaN or infinite. The parameters are left as they were before it. */
export class NonFiniteLoss extends UserError {
  constructor(readonly step: number, loss: number, terms: Record<string, number>) {
    const bad = Object.entries(terms).filter(([, v]) => !Number.isFinite(v)).map(([k, v]) => `${k} = ${v}`);
    super(
      `training diverged at step ${step}: the loss is ${loss}${bad.length ? ` (${bad.join(", ")})` : ""}; ` +
      "lower the learning rate (--lr) or the loss weights, or look for extreme values in numeric columns (`transform: log1p` tames them)",
      1, "error",
    );
  }
}

/** What a training step reads and rewrites: dense parameters and state, optimizer slots, host tables. */
export interface StepState {
  /** Dense parameters and state by name; each trainable one is a view of `dense.values`. */
  params: Map<string, Float32Array>;
  /** Optimizer state of dense parameters, `${param}::${slot}`: views of `dense.slots`. */
  slots: Map<string, Float32Array>;
  /** The trainable parameters and each of their slots, concatenated in the signature's order. */
  dense: { values: Float32Array; slots: Float32Array[] };
  store: EmbeddingStore;
  /**
   * The other half of the dense parameters, their slots and the state: a step writes its updates there
   * (preallocated outputs) and the halves swap, so ONNX Runtime allocates no output for them.
   * (onnxruntime-node still hands back a copy of every output as a new array; that copy is left unused.)
   */
  spare?: Map<string, Float32Array>;
}

/** Initial weights (the compiled ones) and zero optimizer state. */
export function initialStepState(spec: Spec, step: CompiledTrainStep, data: ModelData): StepState {
  const sig = step.signature;
  const size = sig.parameters.reduce((n, p) => n + sizeOf(p.shape), 0);
  const state: StepState = { params: new Map(), slots: new Map(), dense: { values: new Float32Array(size), slots: sig.slots.map(() => new Float32Array(size)) }, store: new EmbeddingStore(spec, data, sig) };
  viewDense(sig, state);
  for (const [k, v] of step.initial) {
    const view = state.params.get(k);
    if (view) view.set(v.data as Float32Array);
    else state.params.set(k, Float32Array.from(v.data as Float32Array)); // state (running statistics)
  }
  return state;
}

/** Points each trainable parameter and slot of `state` at its place in `state.dense`. */
function viewDense(sig: CompiledTrainStep["signature"], state: StepState): void {
  let at = 0;
  for (const p of sig.parameters) {
    const end = at + sizeOf(p.shape);
    state.params.set(p.name, state.dense.values.subarray(at, end));
    sig.slots.forEach((s, i) => state.slots.set(slotName(p.name, s), state.dense.slots[i].subarray(at, end)));
    at = end;
  }
}

/** An array a step rewrites whole, by its input's name: each state, and the dense parameters with their slots. */
interface Rewritten {
  name: string;
  current: Float32Array;
  shape: readonly number[];
  replace: (next: Float32Array) => void;
}

function rewritten(sig: CompiledTrainStep["signature"], state: StepState): Rewritten[] {
  const out: Rewritten[] = sig.states.map((s) => ({ name: s.name, current: state.params.get(s.name)!, shape: s.shape, replace: (v) => state.params.set(s.name, v) }));
  if (sig.parameters.length) {
    const shape = [state.dense.values.length];
    out.push({ name: DENSE_PARAMETERS, current: state.dense.values, shape, replace: (v) => (state.dense.values = v) });
    sig.slots.forEach((s, i) => out.push({ name: slotName(DENSE_PARAMETERS, s), current: state.dense.slots[i], shape, replace: (v) => (state.dense.slots[i] = v) }));
  }
  return out;
}

export interface StepInputs {
  /** The batch: raw rows with their domain ids, or already encoded (by the batch worker, or a retrieval step's towers). */
  batch: { rows: RawRow[]; domains: ArrayLike<number> } | { encoded: TrainBatch };
  /** Absent for steps without a label input (retrieval). */
  labels?: Float32Array;
  /** Further inputs of the step graph, by name. */
  extra?: Record<string, ort.Tensor>;
  lr: number;
  embeddingLr: number;
  /** 1-based step number (Adam's bias correction). */
  step: number;
  /** Seed of this step's dropout and router noise. */
  seed: number;
  /** For data error positions. */
  file: string;
}

/**
 * One training step: encodes the batch (unique embedding rows gathered from the host), runs the step
 * graph, and writes parameters, state, optimizer slots and the touched rows back into `state`.
 */
export async function runTrainStep(session: ort.InferenceSession, spec: Spec, step: CompiledTrainStep, state: StepState, b: StepInputs): Promise<{ loss: number; terms: Record<string, number>; ortMs: number }> {
  const sig = step.signature;
  const enc = "encoded" in b.batch ? b.batch.encoded : encodeTrainBatch(spec, sig, state.store, b.batch.rows, b.batch.domains, b.file, b.seed);
  const feeds = enc.feeds;
  const scalar = (v: number) => new ort.Tensor("float32", new Float32Array([v]), []);
  if (b.labels) feeds.label = new ort.Tensor("float32", b.labels, [b.labels.length]);
  Object.assign(feeds, b.extra);
  // Every parameter and state by name (the trainable ones as views of the dense buffer), then the dense
  // buffer and its slots whole.
  for (const [name, v] of state.params) feeds[name] = new ort.Tensor("float32", v, step.initial.get(name)!.shape as number[]);
  const whole = rewritten(sig, state);
  for (const r of whole) feeds[r.name] ??= new ort.Tensor("float32", r.current, r.shape as number[]);
  feeds.lr = scalar(b.lr);
  feeds.embedding_lr = scalar(b.embeddingLr);
  feeds.step = scalar(b.step);
  if (sig.seeded) feeds[SEED_INPUT] = scalar(b.seed);
  const fetches = preallocatedOutputs(session, state, whole);
  const t0 = performance.now();
  const out = await session.run(feeds, fetches);
  const ortMs = performance.now() - t0;
  const loss = (out.loss.data as Float32Array)[0];
  const terms = Object.fromEntries(sig.lossTerms.map((t) => [t, (out[lossTermOutput(t)].data as Float32Array)[0]]));
  // A non-finite loss would write NaN into every parameter: stop before the state is touched.
  if (!Number.isFinite(loss)) throw new NonFiniteLoss(b.step, loss, terms);
  for (const r of whole) {
    state.spare!.set(r.name, r.current);
    r.replace(fetches[updated(r.name)]!.data as Float32Array);
  }
  viewDense(sig, state);
  scatterRows(sig, state.store, enc.touched, out);
  return { loss, terms, ortMs };
}

/** Every output of the step; the arrays it rewrites whole written into the spare halves, the rest allocated by ONNX Runtime. */
function preallocatedOutputs(session: ort.InferenceSession, state: StepState, whole: Rewritten[]): Record<string, ort.Tensor | null> {
  const spare = (state.spare ??= new Map());
  const fetches: Record<string, ort.Tensor | null> = Object.fromEntries(session.outputNames.map((n) => [n, null]));
  for (const { name, current, shape } of whole) {
    let buf = spare.get(name);
    if (!buf || buf.length !== current.length || buf === current) spare.set(name, (buf = new Float32Array(current.length)));
    fetches[updated(name)] = new ort.Tensor("float32", buf, shape as number[]);
  }
  return fetches;
}
