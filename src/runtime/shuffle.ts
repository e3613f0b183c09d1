import type { RawRow } from "./cells.js";
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

const SEP = "\u0000";

/**
 * Rows of one file as compact strings while they wait: a CSV row (every value a string) becomes one string
 * "line␀value␀value…" — about 100 bytes instead of ~560 for an object of strings — which is most of a
 * training run's memory besides its tables, and most of the garbage the collector would otherwise let pile
 * up. Rows of other shapes (JSON, Parquet values) are kept as they are.
 */
export function rowCodec(): Codec<RawRow, RawRow | string> {
  let keys: string[] | undefined;
  return {
    pack(row) {
      if (row.columns !== undefined) return row;
      const values = row.values;
      keys ??= Object.keys(values);
      const parts: string[] = [String(row.line)];
      for (const k in values) {
        const v = values[k];
        if (typeof v !== "string" || k !== keys[parts.length - 1] || v.includes(SEP)) return row;
        parts.push(v);
      }
      // join makes one flat string; `+=` would keep a rope pointing at every cell.
      return parts.length === keys.length + 1 ? parts.join(SEP) : row;
    },
    unpack(p) {
      if (typeof p !== "string") return p;
      const parts = p.split(SEP);
      const values: Record<string, unknown> = {};
      for (let i = 0; i < keys!.length; i++) values[keys![i]] = parts[i + 1];
      return { values, line: Number(parts[0]) };
    },
  };
}
