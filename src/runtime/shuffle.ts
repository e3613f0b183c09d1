import type { RawRow } from "./cells.js";
import { packCells, unpackRow } from "./packed-row.js";
import { prng } from "../graph/init.js";

/**
 * Buffered shuffle: memory holds at most `capacity` rows whatever the file size. Rows enter a buffer and
 * leave from a random slot, so order is mixed across windows of the file; the same seed gives the same order.
 */
export async function* bufferedShuffle<T, P = T>(rows: AsyncIterable<T>, capacity: number, seed: number, stream: string, codec?: Codec<T, P>): AsyncGenerator<T> {
  const rnd = prng(seed, stream);
  const pack = codec?.pack ?? ((x: T) => x as unknown as P);
  const unpack = codec?.unpack ?? ((x: P) => x as unknown as T);
  const buffer = new WaitingRows<P>(capacity);
  for await (const row of rows) {
    if (buffer.length < capacity) {
      buffer.push(pack(row));
      continue;
    }
    const j = Math.floor(rnd() * capacity);
    yield unpack(buffer.get(j));
    buffer.set(j, pack(row));
  }
  // Fisher–Yates over what is left.
  for (let i = buffer.length - 1; i > 0; i--) buffer.swap(i, Math.floor(rnd() * (i + 1)));
  for (let i = 0; i < buffer.length; i++) yield unpack(buffer.get(i));
}

/**
 * The rows waiting in a shuffle buffer. Strings (packed rows) are kept as UTF-8 in one byte array that is
 * compacted when it fills, not as heap strings: each would live long enough to reach the collector's old
 * generation and die there, one per row read, so a 200k-row buffer grew a thread's heap to ~5× what it
 * held. Anything else is kept as it is.
 */
export class WaitingRows<P> {
  private bytes = Buffer.alloc(1 << 16);
  private used = 0;
  /** Where slot i's bytes start; -1: the value is in `others`. */
  private readonly start: Float64Array;
  private readonly size: Int32Array;
  private readonly others = new Map<number, P>();
  private readonly encoder = new TextEncoder();
  length = 0;

  constructor(capacity: number) {
    this.start = new Float64Array(capacity);
    this.size = new Int32Array(capacity);
  }

  push(value: P): void {
    this.set(this.length++, value);
  }

  get(i: number): P {
    if (this.start[i] < 0) return this.others.get(i)!;
    const at = this.start[i];
    return this.bytes.toString("utf8", at, at + this.size[i]) as P;
  }

  set(i: number, value: P): void {
    this.others.delete(i);
    // UTF-8 cannot hold a lone surrogate (a JSON string may): such a string is kept as it is.
    if (typeof value !== "string" || !(value as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      this.start[i] = -1;
      this.others.set(i, value);
      return;
    }
    this.size[i] = 0; // the old bytes are garbage now, and a compaction need not keep them
    this.reserve(3 * value.length); // the most UTF-8 bytes a JavaScript string can take
    const { written } = this.encoder.encodeInto(value, this.bytes.subarray(this.used));
    this.start[i] = this.used;
    this.size[i] = written;
    this.used += written;
  }

  swap(i: number, j: number): void {
    const [si, ni, oi] = [this.start[i], this.size[i], this.others.get(i)];
    [this.start[i], this.size[i]] = [this.start[j], this.size[j]];
    [this.start[j], this.size[j]] = [si, ni];
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
    for (let i = 0; i < this.length; i++) if (this.start[i] >= 0) live += this.size[i];
    const next = Buffer.alloc(Math.max(1 << 16, Math.ceil(1.25 * (live + n))));
    let at = 0;
    for (let i = 0; i < this.length; i++) {
      if (this.start[i] < 0) continue;
      next.set(this.bytes.subarray(this.start[i], this.start[i] + this.size[i]), at);
      this.start[i] = at;
      at += this.size[i];
    }
    this.bytes = next;
    this.used = at;
  }
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
