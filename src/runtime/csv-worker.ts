import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { DataError } from "./cells.js";
import { packCells } from "./packed-row.js";
import { csvRecordChunks } from "./csv-records.js";
import { creditedSender, failureOf, type WorkerFailure } from "./worker-channel.js";

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
  | WorkerFailure;

const CHUNK = 2048;
const AHEAD = 4;

if (!isMainThread && parentPort && (workerData as { csvWorker?: boolean })?.csvWorker) {
  const port = parentPort;
  const path = (workerData as { path: string }).path;
  const send = creditedSender<CsvMessage>(port, AHEAD);
  try {
    let header = true;
    let rows: (string | string[])[] = [];
    for await (const chunk of csvRecordChunks(path, false)) {
      for (const r of chunk) {
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
    }
    if (rows.length) await send({ kind: "rows", rows });
    port.postMessage({ kind: "done" } satisfies CsvMessage);
  } catch (e) {
    // Whatever stops the parse (an unreadable file included) is reported as a problem of the file.
    port.postMessage(failureOf(e instanceof DataError ? e : new DataError(path, 1, undefined, (e as Error).message)) satisfies CsvMessage);
  }
}
