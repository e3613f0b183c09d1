import ort from "onnxruntime-node";
import type { TrainStepSignature } from "../compiler/train-step.js";
import type { CategoricalFeature, Spec } from "../spec/types.js";
import { categoryCell, multiValues, numericCell, numericPolicies, type RawRow } from "./cells.js";
import type { EmbeddingStore } from "./embedding-store.js";
import { DOMAIN_ID_INPUT, indexInput, rowsInput, slotName, updated } from "../graph/names.js";

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
export function encodeTrainBatch(spec: Spec, signature: TrainStepSignature, store: EmbeddingStore, rows: RawRow[], domainIds: Int32Array | number[], file: string, oovSeed?: number): TrainBatch {
  const n = rows.length;
  // `oov_rate`: a share of training values goes to the out-of-vocabulary row, so that row learns what an
  // unseen value should mean (otherwise it keeps its random initial value for every id new at serving).
  const random = oovSeed === undefined ? undefined : mulberry32(oovSeed);
  const drop = (rate: number | undefined) => random !== undefined && rate !== undefined && rate > 0 && random() < rate;
  const feeds: Record<string, ort.Tensor> = {};
  const unique = new Map<string, Map<number, number>>();
  const positionOf = (table: string, row: number) => {
    let m = unique.get(table);
    if (!m) unique.set(table, (m = new Map()));
    let p = m.get(row);
    if (p === undefined) m.set(row, (p = m.size));
    return p;
  };
  const features = new Map(spec.features.map((f) => [f.name, f]));
  for (const l of signature.lookups) {
    const f = features.get(l.feature)!;
    if (f.kind === "multi_categorical") {
      const lists = rows.map((r) => multiValues(r.values[f.column], f.separator));
      const L = Math.max(1, ...lists.map((x) => x.length));
      const idx = new BigInt64Array(n * L).fill(-1n);
      lists.forEach((list, i) => list.forEach((v, j) => (idx[i * L + j] = BigInt(positionOf(l.table, drop(f.oov_rate) ? 0 : store.rowOf(l.table, v))))));
      feeds[indexInput(l.feature)] = new ort.Tensor("int64", idx, [n, L]);
    } else {
      const idx = new BigInt64Array(n);
      rows.forEach((r, i) => (idx[i] = BigInt(positionOf(l.table, drop((f as CategoricalFeature).oov_rate) ? 0 : store.rowOf(l.table, categoryCell(r, f.column, file))))));
      feeds[indexInput(l.feature)] = new ort.Tensor("int64", idx, [n]);
    }
  }
  const touched = new Map<string, Int32Array>();
  for (const t of signature.tables) {
    const table = store.tables.get(t.name)!;
    const ids = Int32Array.from((unique.get(t.name) ?? new Map([[0, 0]])).keys());
    touched.set(t.name, ids);
    feeds[rowsInput(t.name)] = new ort.Tensor("float32", gatherRows(table.values, ids, t.dim), [ids.length, t.dim]);
    signature.slots.forEach((slot, s) => {
      feeds[slotName(rowsInput(t.name), slot)] = new ort.Tensor("float32", gatherRows(table.slots[s], ids, t.dim), [ids.length, t.dim]);
    });
  }
  // Numeric columns go in raw, parsed as at serving.
  for (const [column, policy] of numericPolicies(spec)) {
    feeds[column] = new ort.Tensor("float32", Float32Array.from(rows, (r) => numericCell(r, column, policy, file)), [n]);
  }
  feeds[DOMAIN_ID_INPUT] = new ort.Tensor("int64", BigInt64Array.from(Array.from(domainIds, BigInt)), [n]);
  return { feeds, touched };
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

/** A small seeded generator: the same step of the same run drops the same values (exact resume). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
