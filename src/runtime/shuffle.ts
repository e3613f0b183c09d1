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
  const buffer: P[] = [];
  for await (const row of rows) {
    if (buffer.length < capacity) {
      buffer.push(pack(row));
      continue;
    }
    const j = Math.floor(rnd() * capacity);
    yield unpack(buffer[j]);
    buffer[j] = pack(row);
  }
  // Fisher–Yates over what is left.
  for (let i = buffer.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [buffer[i], buffer[j]] = [buffer[j], buffer[i]];
  }
  for (const p of buffer) yield unpack(p);
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
