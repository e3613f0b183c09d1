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
  /** Per table: the host row of each position, ascending. */
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
  const features = new Map(spec.features.map((f) => [f.name, f]));
  // Each value's table row first (-1 pads a multi-valued field), then positions among each table's touched rows.
  const lookups = signature.lookups.map((l) => {
    const f = features.get(l.feature)!;
    if (f.kind === "multi_categorical") {
      const lists = rows.map((r) => multiValues(r.values[f.column], f.separator));
      const L = Math.max(1, ...lists.map((x) => x.length));
      const ids = new Int32Array(n * L).fill(-1);
      lists.forEach((list, i) => list.forEach((v, j) => (ids[i * L + j] = drop(f.oov_rate) ? 0 : rowOf(l.table, v))));
      return { l, ids, shape: [n, L] };
    }
    const ids = new Int32Array(n);
    const rate = (f as CategoricalFeature).oov_rate;
    for (let i = 0; i < n; i++) ids[i] = drop(rate) ? 0 : rowOf(l.table, categoryCell(rows[i], f.column, file));
    return { l, ids, shape: [n] };
  });
  const touched = new Map<string, Int32Array>();
  const positions = new Map<string, Map<number, number>>();
  for (const t of signature.tables) {
    const seen = new Set<number>();
    for (const { l, ids } of lookups) if (l.table === t.name) for (const id of ids) if (id >= 0) seen.add(id);
    if (seen.size === 0) seen.add(0);
    // Ascending, so that the host's write-back after the step walks each table forwards.
    const sorted = Int32Array.from(seen).sort();
    touched.set(t.name, sorted);
    positions.set(t.name, new Map(Array.from(sorted, (id, p) => [id, p])));
  }
  const indices: EncodedRows["indices"] = lookups.map(({ l, ids, shape }) => {
    const at = positions.get(l.table)!;
    const data = new BigInt64Array(ids.length);
    for (let i = 0; i < ids.length; i++) data[i] = ids[i] < 0 ? -1n : BigInt(at.get(ids[i])!);
    return { name: indexInput(l.feature), data, shape };
  });
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
