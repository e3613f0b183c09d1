import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { DataError } from "./cells.js";
import { packCells } from "./packed-row.js";
import { csvRecords } from "./readers.js";
import { creditedSender } from "./worker-channel.js";

/**
 * Parses a CSV file off the main thread for `openRows(…, { worker: true })`: the header, then chunks of
 * rows as compact strings ("line␀value␀value…"), at most a few chunks ahead of the reader, which asks for
 * more as it consumes them.
 */
export type CsvMessage =
  | { kind: "header"; header: string[] }
  /** Packed rows; a row whose cells hold the separator comes as [line, …cells]. */
  | { kind: "rows"; rows: (string | string[])[] }
  | { kind: "done" }
  | { kind: "error"; file: string; line: number; column?: number; reason: string };

const CHUNK = 2048;
const AHEAD = 4;

if (!isMainThread && parentPort && (workerData as { csvWorker?: boolean })?.csvWorker) {
  const port = parentPort;
  const path = (workerData as { path: string }).path;
  const send = creditedSender<CsvMessage>(port, AHEAD);
  try {
    let header = true;
    let rows: (string | string[])[] = [];
    for await (const r of csvRecords(path, false)) {
      if (header) {
        header = false;
        await send({ kind: "header", header: r.record });
        continue;
      }
      rows.push(packCells(r.line, r.record) ?? [String(r.line), ...r.record]);
      if (rows.length === CHUNK) {
        await send({ kind: "rows", rows });
        rows = [];
      }
    }
    if (rows.length) await send({ kind: "rows", rows });
    port.postMessage({ kind: "done" } satisfies CsvMessage);
  } catch (e) {
    const d = e instanceof DataError ? e : undefined;
    port.postMessage({ kind: "error", file: d?.file ?? path, line: d?.line ?? 1, column: d?.column, reason: d?.reason ?? (e as Error).message } satisfies CsvMessage);
  }
}
