import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { buffersOf, encodeRecords, recordEncoder, recordLabels, stepSeed, type RowRecord } from "./batch-encoding.js";
import type { EpochJob, EpochMessage } from "./batch-pipeline.js";
import { rowLookups } from "./embedding-store.js";
import { openRows } from "./readers.js";
import { checkColumns, labelRow } from "./rows.js";
import { Shuffler } from "./shuffle.js";
import { creditedSender, failureOf } from "./worker-channel.js";

/** Batches ready ahead of the step: enough to hide a slow one, few enough to cost no memory to speak of. */
const AHEAD = 3;

/** The worker's side of runtime/batch-pipeline.ts: one epoch of one file. */
async function runEpoch(port: MessagePort, job: EpochJob): Promise<void> {
  const { spec, signature, file } = job;
  const send = creditedSender<EpochMessage>(port, AHEAD);
  const rowOf = rowLookups(spec, job.data, signature);
  const source = openRows(file, { positions: false }); // validated by the first pass
  checkColumns(spec, await source.columns(), file);
  // Rows become records as they are read, so they wait in the shuffle buffer as numbers, not text; the
  // loop awaits once per chunk of the file and once per batch, not once per row.
  const encode = recordEncoder(spec, signature, rowOf, file);
  const shuffler = new Shuffler<RowRecord>(job.shuffleBuffer, spec.train.seed, job.stream);
  let index = 0;
  const flush = async (batch: RowRecord[]) => {
    if (index < job.skip) {
      index++;
      return send({ kind: "skipped", rows: batch.length });
    }
    const step = job.firstStep + index++ - job.skip;
    const seed = stepSeed(spec.train.seed, step);
    const encoded = encodeRecords(spec, signature, batch, seed);
    const labels = recordLabels(batch);
    return send({ kind: "batch", step, seed, encoded, labels }, [...buffersOf(encoded), labels.buffer as ArrayBuffer]);
  };
  let batch: RowRecord[] = [];
  /** Adds a record to the batch being filled: the batch, when that filled it (a sync step: no await per row). */
  const add = (record: RowRecord): RowRecord[] | undefined => {
    batch.push(record);
    if (batch.length < spec.train.batch_size) return undefined;
    const full = batch;
    batch = [];
    return full;
  };
  for await (const chunk of source.chunks()) {
    for (const row of chunk) {
      const labelled = labelRow(spec, row, file);
      if (!labelled) continue;
      const out = shuffler.push(encode(labelled, labelled.domain, labelled.label));
      const full = out && add(out);
      if (full) await flush(full);
    }
  }
  for (const out of shuffler.rest()) {
    const full = add(out);
    if (full) await flush(full);
  }
  if (batch.length) await flush(batch);
  port.postMessage({ kind: "done" } satisfies EpochMessage);
}

if (parentPort) {
  const port = parentPort;
  runEpoch(port, workerData as EpochJob).catch((e: unknown) => port.postMessage(failureOf(e) satisfies EpochMessage));
}
