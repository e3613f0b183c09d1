import ort from "onnxruntime-node";
import type { TrainStepSignature } from "../compiler/train-step.js";
import type { Spec } from "../spec/types.js";
import type { RawRow } from "./cells.js";
import { encodeRows, type EncodedRows } from "./batch-encoding.js";
import type { EmbeddingStore } from "./embedding-store.js";
import { DOMAIN_ID_INPUT, embeddingTable, rowsInput, slotName, touchedInput, updated } from "../graph/names.js";

export interface TrainBatch {
  feeds: Record<string, ort.Tensor>;
  /** Per table: the host row of each position in `rows.<table>`, for writing updated rows back. */
  touched: Map<string, Int32Array>;
}

/**
 * A batch of raw rows as train-step feeds: every categorical value becomes a position among its table's
 * unique rows for this batch (`index.<field>`), listed in `touched.<table>`. Numerics go in raw (the graph
 * normalises them, as at serving).
 */
export function encodeTrainBatch(spec: Spec, signature: TrainStepSignature, store: EmbeddingStore, rows: RawRow[], domainIds: ArrayLike<number>, file: string, oovSeed?: number): TrainBatch {
  return batchFeeds(signature, store, encodeRows(spec, signature, store.rowOf, rows, domainIds, file, oovSeed));
}

/**
 * Feeds of an encoded batch: its tables whole, with their optimizer state, as views of the host store (no
 * copy: ONNX Runtime reads a CPU input in place) and the rows the batch touches, which the graph gathers.
 */
export function batchFeeds(signature: TrainStepSignature, store: EmbeddingStore, e: EncodedRows): TrainBatch {
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of e.indices) feeds[i.name] = new ort.Tensor("int64", i.data, i.shape);
  for (const t of signature.tables) {
    const table = store.tables.get(t.name)!;
    const ids = e.touched.get(t.name)!;
    feeds[touchedInput(t.name)] = new ort.Tensor("int32", ids, [ids.length]);
    feeds[embeddingTable(t.name)] = new ort.Tensor("float32", table.values, [t.rows, t.dim]);
    signature.slots.forEach((slot, s) => {
      feeds[slotName(embeddingTable(t.name), slot)] = new ort.Tensor("float32", table.slots[s], [t.rows, t.dim]);
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

// A plain loop: rows are short (16 floats), so a subarray view per row would cost more than the copy.
function scatter(values: Float32Array, ids: Int32Array, rows: Float32Array, dim: number): void {
  for (let i = 0; i < ids.length; i++) {
    const to = ids[i] * dim;
    const from = i * dim;
    for (let j = 0; j < dim; j++) values[to + j] = rows[from + j];
  }
}
