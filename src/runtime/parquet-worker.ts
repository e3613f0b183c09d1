import { parentPort, workerData } from "node:worker_threads";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";

/**
 * Decodes a Parquet file one row group per request, off the main thread: a damaged file can send the
 * decoder into an endless loop, and only a worker can be stopped from outside (see readers.ts).
 */
export type ParquetMessage =
  | { kind: "columns"; columns: string[]; groups: number[] }
  | { kind: "rows"; rows: Record<string, unknown>[] }
  | { kind: "error"; message: string };

const port = parentPort!;
const path = (workerData as { path: string }).path;

try {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  const groups = metadata.row_groups.map((g) => Number(g.num_rows));
  port.postMessage({ kind: "columns", columns, groups } satisfies ParquetMessage);
  let row = 0;
  for (const n of groups) {
    await new Promise((resolve) => port.once("message", resolve)); // the reader asks for each group
    const rows = await parquetReadObjects({ file, metadata, rowStart: row, rowEnd: row + n });
    for (const values of rows) {
      for (const [k, v] of Object.entries(values)) if (typeof v === "bigint") values[k] = Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
    }
    row += n;
    port.postMessage({ kind: "rows", rows } satisfies ParquetMessage);
  }
} catch (e) {
  port.postMessage({ kind: "error", message: (e as Error).message } satisfies ParquetMessage);
}
