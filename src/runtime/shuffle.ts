import { prng } from "../graph/init.js";

/**
 * Buffered shuffle: memory holds at most `capacity` rows whatever the file size. Rows enter a buffer and
 * leave from a random slot, so order is mixed across windows of the file; the same seed gives the same order.
 */
export async function* bufferedShuffle<T>(rows: AsyncIterable<T>, capacity: number, seed: number, stream: string): AsyncGenerator<T> {
  const rnd = prng(seed, stream);
  const buffer: T[] = [];
  for await (const row of rows) {
    if (buffer.length < capacity) {
      buffer.push(row);
      continue;
    }
    const j = Math.floor(rnd() * capacity);
    yield buffer[j];
    buffer[j] = row;
  }
  // Fisher–Yates over what is left.
  for (let i = buffer.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [buffer[i], buffer[j]] = [buffer[j], buffer[i]];
  }
  yield* buffer;
}
