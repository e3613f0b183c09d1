import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { DataError } from "./cells.js";
import { csvRecords } from "./readers.js";

/**
 * Parses a CSV file off the main thread for `openRows(…, { worker: true })`: the header, then chunks of
 * rows as compact strings ("line␀value␀value…"), at most a few chunks ahead of the reader, which asks for
 * more as it consumes them.
 */
export type CsvMessage =
  | { kind: "header"; header: string[] }
  | { kind: "rows"; rows: string[] }
  | { kind: "done" }
  | { kind: "error"; file: string; line: number; column?: number; reason: string };

export const SEP = "\u0000";
const CHUNK = 2048;
const AHEAD = 4;

if (!isMainThread && parentPort && (workerData as { csvWorker?: boolean })?.csvWorker) {
  const port = parentPort;
  const path = (workerData as { path: string }).path;
  let credit = AHEAD;
  let waiting: (() => void) | undefined;
  port.on("message", () => {
    credit++;
    waiting?.();
  });
  const send = async (m: CsvMessage) => {
    while (credit === 0) await new Promise<void>((r) => (waiting = r));
    credit--;
    port.postMessage(m);
  };
  try {
    let header = true;
    let rows: string[] = [];
    for await (const r of csvRecords(path, false)) {
      if (header) {
        header = false;
        await send({ kind: "header", header: r.record });
        continue;
      }
      rows.push(`${r.line}${SEP}${r.record.join(SEP)}`);
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
