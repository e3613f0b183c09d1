import type { TrainStepSignature } from "../compiler/train-step.js";
import type { ModelData } from "../plan/model-data.js";
import type { Spec } from "../spec/types.js";
import type { EncodedRows } from "./batch-encoding.js";
import { PARSING_WORKER, workerMessages, type StreamEnd, type WorkerFailure } from "./worker-channel.js";

/**
 * An epoch's batches prepared in a worker thread while the main thread runs steps: the file is read and
 * parsed, shuffled, labelled, cut into batches and encoded there (runtime/batch-worker.ts). ONNX Runtime's
 * `run` in Node.js holds the main thread for the whole step, so only another thread can overlap with it;
 * what is left on the main thread is the gather of embedding rows (they change with every step) and the
 * write-back.
 */
export interface EpochJob {
  file: string;
  spec: Spec;
  signature: TrainStepSignature;
  data: ModelData;
  shuffleBuffer: number;
  /** Name of the epoch's shuffle stream (the order depends on it and the run's seed). */
  stream: string;
  /** Batches of this epoch already trained on (resume): counted, not encoded. */
  skip: number;
  /** Step number of the first batch after `skip`; later batches count up from it. */
  firstStep: number;
}

export type EpochMessage =
  | { kind: "batch"; step: number; seed: number; encoded: EncodedRows; labels: Float32Array }
  | { kind: "skipped"; rows: number }
  | { kind: "done" }
  | WorkerFailure;

export type EpochBatch = Exclude<EpochMessage, StreamEnd>;

/** Whether two jobs give the same batches with the same step numbers. */
export function sameJob(a: EpochJob, b: EpochJob): boolean {
  return a.stream === b.stream && a.skip === b.skip && a.firstStep === b.firstStep && a.file === b.file;
}

/**
 * The epoch's batches in training order; a data error in the worker arrives as the same positioned error.
 * An abort stops the worker at once.
 */
export function epochBatches(job: EpochJob, signal?: AbortSignal): AsyncGenerator<EpochBatch> {
  return workerMessages<EpochMessage>(new URL("./batch-worker.js", import.meta.url), job, signal, PARSING_WORKER);
}

/**
 * An epoch started ahead (while the previous one's checkpoint is written): its worker reads the file and
 * fills the shuffle buffer meanwhile. `take` hands its batches over; `cancel` stops it.
 */
export class EpochAhead {
  private readonly stop = new AbortController();
  private readonly batches: AsyncGenerator<EpochBatch>;
  private readonly first: Promise<IteratorResult<EpochBatch>>;

  constructor(readonly job: EpochJob) {
    this.batches = epochBatches(job, this.stop.signal);
    this.first = this.batches.next();
    this.first.catch(() => undefined); // reported when taken; never an unhandled rejection meanwhile
  }

  async *take(): AsyncGenerator<EpochBatch> {
    const first = await this.first;
    if (first.done) return;
    yield first.value;
    yield* this.batches;
  }

  cancel(): void {
    this.stop.abort();
  }
}
