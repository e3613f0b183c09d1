import type { TrainStepSignature } from "../compiler/train-step.js";
import type { CategoricalFeature, MultiCategoricalFeature, Spec } from "../spec/types.js";
import { categoryCell, multiValues, numericCell, numericPolicies, type NumericPolicy, type RawRow } from "./cells.js";
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
 * A labelled row as the numbers a batch is made of, worked out once as the row is read: `[domain, label,
 * the table row of each single-valued field, each numeric cell, then per multi-valued field its count and
 * table rows]`, labels and numerics as float32 bits. A few dozen bytes where the row's text took ~100 (it
 * waits in the shuffle buffer so), and no string is read twice.
 */
export type RowRecord = Int32Array;

const bits = new Int32Array(1);
const float = new Float32Array(bits.buffer);
const asBits = (x: number): number => ((float[0] = x), bits[0]);

/** Where each part of a spec's records lies. */
interface RecordLayout {
  /** Per lookup, in signature order: its slot among the single-valued fields, or among the multi-valued ones. */
  lookups: { table: string; multi: boolean; at: number; feature: CategoricalFeature | MultiCategoricalFeature }[];
  singles: number;
  multis: number;
  numerics: [string, NumericPolicy][];
}

const SINGLES_AT = 2;

function recordLayout(spec: Spec, signature: TrainStepSignature): RecordLayout {
  const features = new Map(spec.features.map((f) => [f.name, f]));
  let singles = 0;
  let multis = 0;
  const lookups = signature.lookups.map((l) => {
    const feature = features.get(l.feature) as CategoricalFeature | MultiCategoricalFeature;
    return { table: l.table, multi: l.multi, at: l.multi ? multis++ : singles++, feature };
  });
  return { lookups, singles, multis, numerics: [...numericPolicies(spec)] };
}

/**
 * Makes records of labelled rows for `encodeRecords`. A cell that cannot be read throws its positioned
 * error here, while the row still knows its line.
 */
export function recordEncoder(spec: Spec, signature: TrainStepSignature, rowOf: RowOf, file: string): (row: RawRow, domain: number, label: number) => RowRecord {
  const layout = recordLayout(spec, signature);
  const fixed = SINGLES_AT + layout.singles + layout.numerics.length;
  return (row, domain, label) => {
    const lists: number[][] = [];
    let size = fixed;
    for (const { table, multi, feature } of layout.lookups) {
      if (!multi) continue;
      const list = multiValues(row.values[feature.column], (feature as MultiCategoricalFeature).separator).map((v) => rowOf(table, v));
      lists.push(list);
      size += 1 + list.length;
    }
    const r = new Int32Array(size);
    r[0] = domain;
    r[1] = asBits(label);
    for (const { table, multi, at, feature } of layout.lookups) if (!multi) r[SINGLES_AT + at] = rowOf(table, categoryCell(row, feature.column, file));
    let p = SINGLES_AT + layout.singles;
    for (const [column, policy] of layout.numerics) r[p++] = asBits(numericCell(row, column, policy, file));
    for (const list of lists) {
      r[p++] = list.length;
      for (const id of list) r[p++] = id;
    }
    return r;
  };
}

/** The labels of a batch of records. */
export function recordLabels(records: readonly RowRecord[]): Float32Array {
  return floatsAt(records, 1);
}

/** Each record's float at `at`, its bits copied as they are. */
function floatsAt(records: readonly RowRecord[], at: number): Float32Array {
  const out = new Int32Array(records.length);
  for (let i = 0; i < records.length; i++) out[i] = records[i][at];
  return new Float32Array(out.buffer);
}

/**
 * Encodes raw rows for the train step: every categorical value becomes a position among its table's unique
 * rows for this batch (see encodeRecords).
 */
export function encodeRows(spec: Spec, signature: TrainStepSignature, rowOf: RowOf, rows: RawRow[], domainIds: ArrayLike<number>, file: string, oovSeed?: number): EncodedRows {
  const encode = recordEncoder(spec, signature, rowOf, file);
  return encodeRecords(spec, signature, rows.map((r, i) => encode(r, domainIds[i], 0)), oovSeed);
}

/**
 * A batch of records as train-step inputs: every categorical value becomes a position among its table's
 * unique rows for this batch. `oovSeed` draws the `oov_rate` drops: a share of training values goes to the
 * out-of-vocabulary row, so that row learns what an unseen value should mean (otherwise it keeps its random
 * initial value for every id new at serving); the same seed drops the same values (exact resume).
 */
export function encodeRecords(spec: Spec, signature: TrainStepSignature, records: readonly RowRecord[], oovSeed?: number): EncodedRows {
  const n = records.length;
  const layout = recordLayout(spec, signature);
  const random = oovSeed === undefined ? undefined : mulberry32(oovSeed);
  const drop = (rate: number | undefined) => random !== undefined && rate !== undefined && rate > 0 && random() < rate;
  // Where each record's multi-valued lists start.
  const listsAt = new Int32Array(n * layout.multis);
  const fixed = SINGLES_AT + layout.singles + layout.numerics.length;
  records.forEach((r, i) => {
    let p = fixed;
    for (let m = 0; m < layout.multis; m++) {
      listsAt[i * layout.multis + m] = p;
      p += 1 + r[p];
    }
  });
  // Each value's table row first (-1 pads a multi-valued field), then positions among each table's touched rows.
  const lookups = signature.lookups.map((l, k) => {
    const { multi, at, feature } = layout.lookups[k];
    const rate = feature.oov_rate;
    if (multi) {
      let L = 1;
      for (let i = 0; i < n; i++) L = Math.max(L, records[i][listsAt[i * layout.multis + at]]);
      const ids = new Int32Array(n * L).fill(-1);
      for (let i = 0; i < n; i++) {
        const r = records[i];
        const p = listsAt[i * layout.multis + at];
        for (let j = 0; j < r[p]; j++) ids[i * L + j] = drop(rate) ? 0 : r[p + 1 + j];
      }
      return { l, ids, shape: [n, L] };
    }
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) ids[i] = drop(rate) ? 0 : records[i][SINGLES_AT + at];
    return { l, ids, shape: [n] };
  });
  const touched = new Map<string, Int32Array>();
  for (const t of signature.tables) {
    const mine = lookups.filter(({ l }) => l.table === t.name);
    const all = new Int32Array(mine.reduce((k, { ids }) => k + ids.length, 0));
    let k = 0;
    for (const { ids } of mine) for (const id of ids) if (id >= 0) all[k++] = id;
    // Ascending, so that the host's write-back after the step walks each table forwards.
    touched.set(t.name, k === 0 ? Int32Array.of(0) : distinct(all.subarray(0, k).sort()));
  }
  const indices: EncodedRows["indices"] = lookups.map(({ l, ids, shape }) => {
    const rows = touched.get(l.table)!;
    const data = new BigInt64Array(ids.length);
    const words = int64Words(data);
    for (let i = 0; i < ids.length; i++) setInt64(words, i, ids[i] < 0 ? -1 : indexInSorted(rows, ids[i]));
    return { name: indexInput(l.feature), data, shape };
  });
  const numerics = layout.numerics.map(([column], k) => ({ name: column, data: floatsAt(records, SINGLES_AT + layout.singles + k) }));
  const domains = new BigInt64Array(n);
  const domainWords = int64Words(domains);
  for (let i = 0; i < n; i++) setInt64(domainWords, i, records[i][0]);
  return { rows: n, indices, touched, numerics, domains };
}

/** The distinct values of a sorted array, in place. */
function distinct(sorted: Int32Array): Int32Array {
  let u = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[u - 1]) sorted[u++] = sorted[i];
  return sorted.slice(0, u);
}

/** Where `id` is in the ascending `rows` (it is there). */
function indexInSorted(rows: Int32Array, id: number): number {
  let lo = 0;
  let hi = rows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// int64 inputs written as two int32 words: a BigInt per value would cost more than the rest of the batch.
const LITTLE_ENDIAN = new Uint8Array(Int32Array.of(1).buffer)[0] === 1;

function int64Words(a: BigInt64Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length * 2);
}

/** Sets element i of the int64 array behind `words` to the int32 `x`. */
function setInt64(words: Int32Array, i: number, x: number): void {
  words[2 * i + (LITTLE_ENDIAN ? 0 : 1)] = x;
  words[2 * i + (LITTLE_ENDIAN ? 1 : 0)] = x < 0 ? -1 : 0;
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
