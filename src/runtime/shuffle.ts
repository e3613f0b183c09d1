import type { RawRow } from "./cells.js";
import { packCells, unpackRow } from "./packed-row.js";
import { prng } from "../graph/init.js";

/**
 * Buffered shuffle: memory holds at most `capacity` rows whatever the file size. Rows enter a buffer and
 * leave from a random slot, so order is mixed across windows of the file; the same seed gives the same order.
 */
export class Shuffler<P> {
  private readonly rnd: () => number;
  private readonly buffer: WaitingRows<P>;

  constructor(private readonly capacity: number, seed: number, stream: string) {
    this.rnd = prng(seed, stream);
    this.buffer = new WaitingRows<P>(capacity);
  }

  /** Adds a row; once the buffer is full, gives back the row of a random slot, which the new row takes. */
  push(row: P): P | undefined {
    if (this.buffer.length < this.capacity) {
      this.buffer.push(row);
      return undefined;
    }
    const j = Math.floor(this.rnd() * this.capacity);
    const out = this.buffer.get(j);
    this.buffer.set(j, row);
    return out;
  }

  /** The rows still waiting, in random order (Fisher–Yates). */
  *rest(): Generator<P> {
    const buffer = this.buffer;
    for (let i = buffer.length - 1; i > 0; i--) buffer.swap(i, Math.floor(this.rnd() * (i + 1)));
    for (let i = 0; i < buffer.length; i++) yield buffer.get(i);
  }
}

/** `Shuffler` over an async stream of rows, each packed by `codec` while it waits. */
export async function* bufferedShuffle<T, P = T>(rows: AsyncIterable<T>, capacity: number, seed: number, stream: string, codec?: Codec<T, P>): AsyncGenerator<T> {
  const pack = codec?.pack ?? ((x: T) => x as unknown as P);
  const unpack = codec?.unpack ?? ((x: P) => x as unknown as T);
  const shuffler = new Shuffler<P>(capacity, seed, stream);
  for await (const row of rows) {
    const out = shuffler.push(pack(row));
    if (out !== undefined) yield unpack(out);
  }
  for (const out of shuffler.rest()) yield unpack(out);
}

/**
 * The rows waiting in a shuffle buffer. Strings (packed rows) are kept as UTF-8 and records (Int32Array) as
 * their bytes, in one byte array that is compacted when it fills, not as heap objects: each would live long
 * enough to reach the collector's old generation and die there, one per row read, so a 200k-row buffer grew
 * a thread's heap to ~5× what it held. Anything else is kept as it is.
 */
export class WaitingRows<P> {
  private bytes = Buffer.alloc(1 << 16);
  /** The same memory as int32 words: records start at a multiple of 4 bytes. */
  private words = wordsOf(this.bytes);
  private used = 0;
  /** Where slot i's bytes start; -1: the value is in `others`. */
  private readonly start: Float64Array;
  /** Whether slot i's bytes are a record's rather than a string's. */
  private readonly record: Uint8Array;
  private readonly size: Int32Array;
  private readonly others = new Map<number, P>();
  private readonly encoder = new TextEncoder();
  length = 0;

  constructor(capacity: number) {
    this.start = new Float64Array(capacity);
    this.size = new Int32Array(capacity);
    this.record = new Uint8Array(capacity);
  }

  push(value: P): void {
    this.set(this.length++, value);
  }

  get(i: number): P {
    if (this.start[i] < 0) return this.others.get(i)!;
    const at = this.start[i];
    if (this.record[i]) return this.words.slice(at / 4, (at + this.size[i]) / 4) as P;
    return this.bytes.toString("utf8", at, at + this.size[i]) as P;
  }

  set(i: number, value: P): void {
    this.others.delete(i);
    this.size[i] = 0; // the old bytes are garbage now, and a compaction need not keep them
    if (value instanceof Int32Array) {
      this.reserve(value.byteLength + 3);
      this.used = align4(this.used);
      this.words.set(value, this.used / 4);
      this.place(i, value.byteLength, 1);
      return;
    }
    // UTF-8 cannot hold a lone surrogate (a JSON string may): such a string is kept as it is.
    if (typeof value !== "string" || !(value as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      this.start[i] = -1;
      this.others.set(i, value);
      return;
    }
    this.reserve(3 * value.length); // the most UTF-8 bytes a JavaScript string can take
    this.place(i, this.encoder.encodeInto(value, this.bytes.subarray(this.used)).written, 0);
  }

  /** Slot i holds the `size` bytes just written at the end. */
  private place(i: number, size: number, record: number): void {
    this.start[i] = this.used;
    this.size[i] = size;
    this.record[i] = record;
    this.used += size;
  }

  swap(i: number, j: number): void {
    const [si, ni, ri, oi] = [this.start[i], this.size[i], this.record[i], this.others.get(i)];
    [this.start[i], this.size[i], this.record[i]] = [this.start[j], this.size[j], this.record[j]];
    [this.start[j], this.size[j], this.record[j]] = [si, ni, ri];
    const oj = this.others.get(j);
    this.others.delete(i);
    this.others.delete(j);
    if (oj !== undefined) this.others.set(i, oj);
    if (oi !== undefined) this.others.set(j, oi);
  }

  /** Room for `n` more bytes: the live bytes move to the front of a new array with a quarter as much room again. */
  private reserve(n: number): void {
    if (this.used + n <= this.bytes.length) return;
    let live = 0;
    for (let i = 0; i < this.length; i++) if (this.start[i] >= 0) live += this.size[i] + 3;
    const next = Buffer.alloc(Math.max(1 << 16, Math.ceil(1.25 * (live + n))));
    let at = 0;
    for (let i = 0; i < this.length; i++) {
      if (this.start[i] < 0) continue;
      if (this.record[i]) at = align4(at);
      next.set(this.bytes.subarray(this.start[i], this.start[i] + this.size[i]), at);
      this.start[i] = at;
      at += this.size[i];
    }
    this.bytes = next;
    this.words = wordsOf(next);
    this.used = at;
  }
}

// Arithmetic, not bit operations: a large buffer passes 2^31 bytes.
const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** A buffer's memory as int32 words (Buffer.alloc gives each buffer its own memory, so it starts aligned). */
function wordsOf(bytes: Buffer): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
}

/** How rows are held while they wait in the buffer. */
export interface Codec<T, P> {
  pack(row: T): P;
  unpack(packed: P): T;
}

/**
 * Rows of one file as compact strings while they wait (see packed-row.ts): a CSV row, every value a
 * string, is most of a training run's memory besides its tables, and most of the garbage the collector
 * would otherwise let pile up. Rows of other shapes (JSON, Parquet values) are kept as they are.
 */
export function rowCodec(): Codec<RawRow, RawRow | string> {
  let keys: string[] | undefined;
  return {
    pack(row) {
      if (row.columns !== undefined) return row;
      const values = row.values;
      keys ??= Object.keys(values);
      const cells: string[] = [];
      for (const k in values) {
        const v = values[k];
        if (typeof v !== "string" || k !== keys[cells.length]) return row;
        cells.push(v);
      }
      return cells.length === keys.length ? packCells(row.line, cells) ?? row : row;
    },
    unpack: (p) => (typeof p === "string" ? unpackRow(p, keys!) : p),
  };
}
