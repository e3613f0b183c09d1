import ort from "onnxruntime-node";
import type { TrainStepSignature } from "../compiler/train-step.js";
import type { Spec } from "../spec/types.js";
import type { RawRow } from "./cells.js";
import { encodeRows, type EncodedRows } from "./batch-encoding.js";
import type { EmbeddingStore } from "./embedding-store.js";
import { DOMAIN_ID_INPUT, rowsInput, slotName, updated } from "../graph/names.js";

export interface TrainBatch {
  feeds: Record<string, ort.Tensor>;
  /** Per table: the host row of each position in `rows.<table>`, for writing updated rows back. */
  touched: Map<string, Int32Array>;
}

/**
 * A batch of raw rows as train-step feeds: every categorical value becomes a position among its table's
 * unique rows for this batch (`index.<field>`), and those rows and their optimizer state are gathered
 * from the host store (`rows.<table>`). Numerics go in raw (the graph normalises them, as at serving).
 */
export function encodeTrainBatch(spec: Spec, signature: TrainStepSignature, store: EmbeddingStore, rows: RawRow[], domainIds: ArrayLike<number>, file: string, oovSeed?: number): TrainBatch {
  return gatherBatch(signature, store, encodeRows(spec, signature, store.rowOf, rows, domainIds, file, oovSeed));
}

/** Feeds of an encoded batch, with its tables' touched rows and their optimizer state read from the host store now. */
export function gatherBatch(signature: TrainStepSignature, store: EmbeddingStore, e: EncodedRows): TrainBatch {
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of e.indices) feeds[i.name] = new ort.Tensor("int64", i.data, i.shape);
  for (const t of signature.tables) {
    const table = store.tables.get(t.name)!;
    const ids = e.touched.get(t.name)!;
    feeds[rowsInput(t.name)] = new ort.Tensor("float32", gatherRows(table.values, ids, t.dim), [ids.length, t.dim]);
    signature.slots.forEach((slot, s) => {
      feeds[slotName(rowsInput(t.name), slot)] = new ort.Tensor("float32", gatherRows(table.slots[s], ids, t.dim), [ids.length, t.dim]);
    });
  }
  for (const x of e.numerics) feeds[x.name] = new ort.Tensor("float32", x.data, [e.rows]);
  feeds[DOMAIN_ID_INPUT] = new ort.Tensor("int64", e.domains, [e.rows]);
  return { feeds, touched: e.touched };
}

/** Writes a step's updated rows and optimizer state back into the host tables. */
export function scatterRows(signature: TrainStepSignature, store: EmbeddingStore, touched: Map<string, Int32Array>, out: Record<string, ort.Tensor>): void {
  for (const t of signature.tables) {
    const table = store.tables.get(t.name)!;
    const ids = touched.get(t.name)!;
    scatter(table.values, ids, out[updated(rowsInput(t.name))].data as Float32Array, t.dim);
    signature.slots.forEach((slot, s) => scatter(table.slots[s], ids, out[updated(slotName(rowsInput(t.name), slot))].data as Float32Array, t.dim));
  }
}

// Plain loops: rows are short (16 floats), so a subarray view per row would cost more than the copy.
function gatherRows(values: Float32Array, ids: Int32Array, dim: number): Float32Array {
  const out = new Float32Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) {
    const from = ids[i] * dim;
    const to = i * dim;
    for (let j = 0; j < dim; j++) out[to + j] = values[from + j];
  }
  return out;
}

function scatter(values: Float32Array, ids: Int32Array, rows: Float32Array, dim: number): void {
  for (let i = 0; i < ids.length; i++) {
    const to = ids[i] * dim;
    const from = i * dim;
    for (let j = 0; j < dim; j++) values[to + j] = rows[from + j];
  }
}
