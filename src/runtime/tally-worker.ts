import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { Spec } from "../spec/types.js";
import { DataError } from "./cells.js";
import { NotPlain, partRecords, type CsvPart } from "./csv-records.js";
import { csvRow } from "./readers.js";
import { tallier, type Tally } from "./tally.js";
import { failureOf, type WorkerFailure } from "./worker-channel.js";

/** A checking pass over consecutive parts of a CSV file, off the main thread: their tally. */
export interface TallyJob {
  tallyWorker: true;
  spec: Spec;
  file: string;
  header: string[];
  parts: CsvPart[];
  summarizing: boolean;
}

export type TallyMessage =
  | { kind: "tally"; tally: Tally }
  /** A part holds text only the sequential reader reads right (quotes, mixed line ends). */
  | { kind: "not plain" }
  | { kind: "done" }
  | WorkerFailure;

if (!isMainThread && parentPort && (workerData as Partial<TallyJob>)?.tallyWorker) {
  const port = parentPort;
  const job = workerData as TallyJob;
  const send = (m: TallyMessage) => port.postMessage(m);
  try {
    const { add, nextPart, tally } = tallier(job.spec, job.file, job.summarizing);
    for (const [i, part] of job.parts.entries()) {
      if (i > 0) nextPart();
      for await (const records of partRecords(job.file, part, job.header.length)) for (const r of records) add(csvRow(job.header, r.record, r.line));
    }
    send({ kind: "tally", tally });
    send({ kind: "done" });
  } catch (e) {
    if (e instanceof NotPlain) {
      send({ kind: "not plain" });
      send({ kind: "done" });
    } else {
      // A file that cannot be read (any more) is the file's problem; the pass with positions says which.
      send(failureOf((e as { code?: unknown }).code ? new DataError(job.file, 1, undefined, (e as Error).message) : e));
    }
  }
}
