import type { TrainStepSignature } from "../compiler/train-step.js";
import type { CategoricalFeature, Spec } from "../spec/types.js";
import { categoryCell, multiValues, numericCell, numericPolicies, type RawRow } from "./cells.js";
import { indexInput } from "../graph/names.js";

/**
 * A training batch as plain typed arrays, before the embedding rows are gathered: what the batch worker
 * prepares beside the running step (runtime/batch-worker.ts) and hands over without a copy.
 */
export interface EncodedRows {
  rows: number;
  /** `index.<field>` inputs: each value's position among its table's unique rows in this batch. */
  indices: { name: string; data: BigInt64Array; shape: number[] }[];
  /** Per table: the host row of each position, in position order. */
  touched: Map<string, Int32Array>;
  /** Numeric columns, raw (the graph normalises them, as at serving). */
  numerics: { name: string; data: Float32Array }[];
  domains: BigInt64Array;
}

/** The row of a raw value in a table (0 = out of vocabulary). */
export type RowOf = (table: string, value: string) => number;

/**
 * Encodes raw rows for the train step: every categorical value becomes a position among its table's unique
 * rows for this batch. `oovSeed` draws the `oov_rate` drops: a share of training values goes to the
 * out-of-vocabulary row, so that row learns what an unseen value should mean (otherwise it keeps its random
 * initial value for every id new at serving); the same seed drops the same values (exact resume).
 */
export function encodeRows(spec: Spec, signature: TrainStepSignature, rowOf: RowOf, rows: RawRow[], domainIds: ArrayLike<number>, file: string, oovSeed?: number): EncodedRows {
  const n = rows.length;
  const random = oovSeed === undefined ? undefined : mulberry32(oovSeed);
  const drop = (rate: number | undefined) => random !== undefined && rate !== undefined && rate > 0 && random() < rate;
  const unique = new Map<string, Map<number, number>>();
  const positionOf = (table: string, row: number) => {
    let m = unique.get(table);
    if (!m) unique.set(table, (m = new Map()));
    let p = m.get(row);
    if (p === undefined) m.set(row, (p = m.size));
    return p;
  };
  const features = new Map(spec.features.map((f) => [f.name, f]));
  const indices: EncodedRows["indices"] = [];
  for (const l of signature.lookups) {
    const f = features.get(l.feature)!;
    if (f.kind === "multi_categorical") {
      const lists = rows.map((r) => multiValues(r.values[f.column], f.separator));
      const L = Math.max(1, ...lists.map((x) => x.length));
      const idx = new BigInt64Array(n * L).fill(-1n);
      lists.forEach((list, i) => list.forEach((v, j) => (idx[i * L + j] = BigInt(positionOf(l.table, drop(f.oov_rate) ? 0 : rowOf(l.table, v))))));
      indices.push({ name: indexInput(l.feature), data: idx, shape: [n, L] });
    } else {
      const idx = new BigInt64Array(n);
      const rate = (f as CategoricalFeature).oov_rate;
      for (let i = 0; i < n; i++) idx[i] = BigInt(positionOf(l.table, drop(rate) ? 0 : rowOf(l.table, categoryCell(rows[i], f.column, file))));
      indices.push({ name: indexInput(l.feature), data: idx, shape: [n] });
    }
  }
  const touched = new Map<string, Int32Array>();
  for (const t of signature.tables) touched.set(t.name, Int32Array.from((unique.get(t.name) ?? new Map([[0, 0]])).keys()));
  const numerics = [...numericPolicies(spec)].map(([column, policy]) => ({ name: column, data: Float32Array.from(rows, (r) => numericCell(r, column, policy, file)) }));
  const domains = new BigInt64Array(n);
  for (let i = 0; i < n; i++) domains[i] = BigInt(domainIds[i]);
  return { rows: n, indices, touched, numerics, domains };
}

/** The seed of a training step's dropout, router noise and `oov_rate` drops. */
export function stepSeed(runSeed: number, step: number): number {
  return (runSeed * 7919 + step) % 16_000_000;
}

/** The buffers of an encoding, to transfer rather than copy it between threads. */
export function buffersOf(e: EncodedRows): ArrayBuffer[] {
  return [...e.indices.map((i) => i.data.buffer), ...[...e.touched.values()].map((t) => t.buffer), ...e.numerics.map((x) => x.data.buffer), e.domains.buffer] as ArrayBuffer[];
}

/** A small seeded generator: the same step of the same run draws the same numbers. */
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
