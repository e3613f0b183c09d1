import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { buffersOf, encodeRows, stepSeed } from "./batch-encoding.js";
import type { EpochJob, EpochMessage } from "./batch-pipeline.js";
import { rowLookups } from "./embedding-store.js";
import { openRows } from "./readers.js";
import { checkColumns, labelRow, type LabelledRow } from "./rows.js";
import { bufferedShuffle, rowCodec } from "./shuffle.js";
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
  const stream = bufferedShuffle(source.rows(), job.shuffleBuffer, spec.train.seed, job.stream, rowCodec());
  let index = 0;
  const flush = async (batch: LabelledRow[]) => {
    if (index < job.skip) {
      index++;
      return send({ kind: "skipped", rows: batch.length });
    }
    const step = job.firstStep + index++ - job.skip;
    const seed = stepSeed(spec.train.seed, step);
    const encoded = encodeRows(spec, signature, rowOf, batch, batch.map((r) => r.domain), file, seed);
    const labels = Float32Array.from(batch, (r) => r.label);
    return send({ kind: "batch", step, seed, encoded, labels }, [...buffersOf(encoded), labels.buffer as ArrayBuffer]);
  };
  let batch: LabelledRow[] = [];
  for await (const row of stream) {
    const labelled = labelRow(spec, row, file);
    if (!labelled) continue;
    batch.push(labelled);
    if (batch.length === spec.train.batch_size) {
      await flush(batch);
      batch = [];
    }
  }
  if (batch.length) await flush(batch);
  port.postMessage({ kind: "done" } satisfies EpochMessage);
}

if (parentPort) {
  const port = parentPort;
  runEpoch(port, workerData as EpochJob).catch((e: unknown) => port.postMessage(failureOf(e) satisfies EpochMessage));
}
