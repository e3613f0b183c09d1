import { appendFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { compileRetrievalInference, compileRetrievalTrainStep, ITEM_KEY_INPUT, ITEM_LOG_Q_INPUT, SIDE_FILES, type RetrievalManifest } from "../compiler/retrieval.js";
import { UserError } from "../diagnostics/errors.js";
import type { ModelData } from "../plan/model-data.js";
import type { TrainStepSignature } from "../compiler/train-step.js";
import { DOMAIN_ID_INPUT } from "../graph/names.js";
import { fieldsSpec, sideSpec } from "../spec/retrieval.js";
import { SIDES, type RetrievalMetric, type RetrievalSpec, type Side, type Spec } from "../spec/types.js";
import { resolve } from "../plan/resolve.js";
import type { EmbeddingStore } from "./embedding-store.js";
import { mulberry32, stepSeed } from "./batch-encoding.js";
import { encodeTrainBatch, type TrainBatch } from "./train-batch.js";
import type { RawRow } from "./cells.js";
import { initialState, saveEpochCheckpoints, weightsOf, type TrainerState } from "./checkpoint-layout.js";
import { summarizeTrainingData } from "./data-stats.js";
import { Interrupted, isInterrupted, makeFolder, withSignalGuard, writeFilesAtomic } from "./output.js";
import { openRows } from "./readers.js";
import { evaluateRetrieval, type RetrievalEvaluation } from "./retrieval-eval.js";
import { itemIdOf, ItemFrequencies, readItemCatalog, type Catalogue } from "./retrieval-data.js";
import { removeRun, takeRunFolder, inspectRunFolder, writeRunRecord } from "./run-folder.js";
import { labelRow, type LabelledRow } from "./rows.js";
import { createSession } from "./session.js";
import { bufferedShuffle, rowCodec } from "./shuffle.js";
import { NonFiniteLoss, runTrainStep } from "./step-runner.js";
import { effectiveSpec } from "./trainer.js";
import type { TrainOptions } from "./train-options.js";

export interface RetrievalTrainOptions extends Omit<TrainOptions, "spec" | "resume" | "dispatch" | "evalEvery" | "stopAfterSteps"> {
  spec: RetrievalSpec;
}

export interface RetrievalRecord extends RetrievalEvaluation {
  epoch: number;
  step: number;
  train_loss: number;
  loss_terms: Record<string, number>;
}

export interface RetrievalTrainResult {
  best?: RetrievalRecord;
  history: RetrievalRecord[];
  steps: number;
  epochsRun: number;
  stoppedEarly: boolean;
  rowsPerSecond: number;
}

/**
 * Trains a two-tower model on positive (query, item) pairs: the first pass learns vocabularies and checks
 * every row; each epoch streams shuffled batches through the retrieval step (in-batch negatives, logQ
 * from streaming item frequencies); after each epoch, recall@K on the validation pairs by exact search
 * over every item seen in training and validation picks the best model and stops early.
 */
export async function trainRetrieval(options: RetrievalTrainOptions): Promise<RetrievalTrainResult> {
  const r = effectiveSpec(options.spec as unknown as Spec, options) as unknown as RetrievalSpec;
  const fields = fieldsSpec(r);
  const log = options.log ?? (() => {});
  const mode = options.overwrite ? "overwrite" : "fresh";
  inspectRunFolder(options.out, mode);
  const summary = await summarizeTrainingData(fields, options.train, (data) => SIDES.map((side) => resolve(sideSpec(r, side), { data, towerWidth: r.embedding.dim })));
  // The validation catalogue: every item of the training and validation pairs.
  const itemColumns = new Map(r.item.features.map((f) => [f.column, `item feature ${f.name}`]));
  const catalogue = await readItemCatalog([options.train, ...(options.valid ? [options.valid] : [])], r.item.id, itemColumns);
  if (!options.valid) log(`no --valid file: early stopping is off; training runs all ${r.train.epochs} epochs and keeps the last`);
  const folder = takeRunFolder(options.out, mode);
  try {
    writeRunRecord(options.out, { spec: r as unknown as Spec, data: options.train, ...(options.valid ? { valid: options.valid } : {}), started: new Date().toISOString() });
    makeFolder(join(options.out, "checkpoints"));
    return await withSignalGuard(() => new RetrievalLoop(options, r, summary.data, summary.rows, catalogue, log).run());
  } catch (e) {
    // An interrupted run keeps the best model of its finished epochs; otherwise nothing useful is left.
    if (e instanceof Interrupted && existsSync(join(options.out, "manifest.json"))) throw e;
    removeRun(options.out);
    if (e instanceof Interrupted) throw new Interrupted(`${e.message}; no epoch had finished, so nothing was kept`);
    if (e instanceof NonFiniteLoss) throw new UserError(`${e.message}. Nothing was saved`, 1);
    throw e;
  } finally {
    folder.release();
  }
}

class RetrievalLoop {
  private readonly fields: Spec;
  private readonly frequencies = new ItemFrequencies();
  /** Every item met in training so far (its first row), in order of first meeting: what extra negatives are drawn from. */
  private readonly seen: [string, RawRow][] = [];
  private readonly seenIds = new Set<string>();
  private readonly history: RetrievalRecord[] = [];
  private rowsSeen = 0;
  private readonly started = performance.now();

  constructor(
    private readonly o: RetrievalTrainOptions, private readonly r: RetrievalSpec, private readonly data: ModelData,
    private readonly rows: number, private readonly catalogue: Catalogue, private readonly log: (l: string) => void,
  ) {
    this.fields = fieldsSpec(r);
  }

  async run(): Promise<RetrievalTrainResult> {
    const step = compileRetrievalTrainStep(this.r, { data: this.data });
    const session = await createSession(step.model, { ep: this.o.ep, threads: this.o.threads, shapesVary: true });
    const state = initialState(this.fields, step, this.data);
    const t = this.r.train;
    let stoppedEarly = false;
    while (state.epoch < t.epochs) {
      const loss = await this.epoch(session, step, state);
      const record = await this.evaluate(state, loss.mean, loss.terms);
      state.epoch++;
      const score = record ? recallOf(record, t.early_stopping.metric as RetrievalMetric) : state.epoch;
      const best = score > state.bestScore;
      if (best) {
        Object.assign(state, { bestScore: score, bestEpoch: state.epoch, badEpochs: 0 });
        this.writeBest(state);
      } else {
        state.badEpochs++;
      }
      saveEpochCheckpoints(state, join(this.o.out, "checkpoints"), this.fields, this.data, this.o.keepCheckpoints ?? 2, best);
      if (record) this.log(`epoch ${state.epoch}: train loss ${loss.mean.toFixed(4)}, valid ${t.early_stopping.metric} ${score.toFixed(4)}${state.bestEpoch === state.epoch ? " (best)" : ""}`);
      if (this.o.valid && state.badEpochs >= t.early_stopping.patience && state.epoch < t.epochs) {
        this.log(`early stopping: ${t.early_stopping.metric} has not improved for ${state.badEpochs} epoch(s)`);
        stoppedEarly = true;
        break;
      }
    }
    await session.release();
    const wall = (performance.now() - this.started) / 1000;
    const best = this.history.find((h) => h.epoch === state.bestEpoch);
    return { ...(best ? { best } : {}), history: this.history, steps: state.step, epochsRun: state.epoch, stoppedEarly, rowsPerSecond: this.rowsSeen / Math.max(wall, 1e-9) };
  }

  private async epoch(session: ort.InferenceSession, step: ReturnType<typeof compileRetrievalTrainStep>, state: TrainerState): Promise<{ mean: number; terms: Record<string, number> }> {
    const t = this.r.train;
    const source = openRows(this.o.train, { positions: false, worker: true });
    const stream = bufferedShuffle(source.rows(), this.o.shuffleBuffer ?? 200_000, t.seed, `shuffle-epoch${state.epoch}`, rowCodec());
    let batch: LabelledRow[] = [];
    let rowsDone = 0;
    let lossSum = 0;
    const termSums: Record<string, number> = {};
    const run = async () => {
      const ids = batch.map((row) => itemIdOf(row, this.r.item.id, this.o.train));
      for (let i = 0; i < batch.length; i++) {
        if (this.seenIds.has(ids[i])) continue;
        this.seenIds.add(ids[i]);
        this.seen.push([ids[i], batch[i]]);
      }
      const { keys, logQ } = this.frequencies.observe(ids);
      const negatives = this.sampleNegatives(state.step);
      const allKeys = BigInt64Array.from([...keys, ...negatives.map(([id]) => BigInt(this.frequencies.keyOf(id)))]);
      const allLogQ = Float32Array.from([...logQ, ...negatives.map(() => -Math.log(this.seen.length))]);
      const extra: Record<string, ort.Tensor> = { [ITEM_KEY_INPUT]: new ort.Tensor("int64", allKeys, [allKeys.length]) };
      if (this.r.loss.logq) extra[ITEM_LOG_Q_INPUT] = new ort.Tensor("float32", allLogQ, [allLogQ.length]);
      const seed = stepSeed(t.seed, state.step + 1);
      const encoded = encodeTowers(this.r, step.signature, state.store, batch, negatives.map(([, row]) => row), this.o.train, seed);
      state.step++;
      const out = await runTrainStep(session, this.fields, step, state, {
        batch: { encoded }, extra, lr: t.lr, embeddingLr: t.embedding_lr, step: state.step,
        seed, file: this.o.train,
      });
      rowsDone += batch.length;
      this.rowsSeen += batch.length;
      lossSum += out.loss * batch.length;
      for (const [k, v] of Object.entries(out.terms)) termSums[k] = (termSums[k] ?? 0) + v * batch.length;
      const elapsed = (performance.now() - this.started) / 1000;
      this.o.progress?.({ epoch: state.epoch + 1, epochs: t.epochs, rowsDone, rowsTotal: this.rows, rowsPerSecond: this.rowsSeen / Math.max(elapsed, 1e-9), loss: lossSum / rowsDone });
      batch = [];
    };
    for await (const row of stream) {
      const labelled = labelRow(this.fields, row, this.o.train);
      if (!labelled) continue;
      batch.push(labelled);
      if (batch.length === t.batch_size) await run();
      if (isInterrupted()) throw new Interrupted(`interrupted at step ${state.step} (epoch ${state.epoch + 1})${state.bestEpoch ? `; ${this.o.out} keeps the best model so far (epoch ${state.bestEpoch})` : ""}; retrieval runs cannot resume yet`);
    }
    // In-batch negatives need company: a last batch of one row would have none.
    if (batch.length > 1) await run();
    return { mean: lossSum / Math.max(rowsDone, 1), terms: Object.fromEntries(Object.entries(termSums).map(([k, v]) => [k, v / Math.max(rowsDone, 1)])) };
  }

  /** `loss.negatives` items drawn uniformly (with replacement) from those seen so far; seeded per step. */
  private sampleNegatives(step: number): [string, RawRow][] {
    const n = this.r.loss.negatives;
    if (n === 0) return [];
    const random = mulberry32(this.r.train.seed * 104_729 + step);
    return Array.from({ length: n }, () => this.seen[Math.floor(random() * this.seen.length)]);
  }

  private async evaluate(state: TrainerState, trainLoss: number, terms: Record<string, number>): Promise<RetrievalRecord | undefined> {
    if (!this.o.valid) return undefined;
    const { files, manifest } = compileRetrievalInference(this.r, { data: this.data, weights: weightsOf(state) });
    const sessions = { query: await createSession(files[SIDE_FILES.query], { threads: this.o.threads }), item: await createSession(files[SIDE_FILES.item], { threads: this.o.threads }) };
    const m = await evaluateRetrieval(sessions, manifest, this.o.valid, this.catalogue, { threads: this.o.threads });
    await Promise.all([sessions.query.release(), sessions.item.release()]);
    const record: RetrievalRecord = { epoch: state.epoch + 1, step: state.step, train_loss: trainLoss, loss_terms: terms, ...m };
    appendFileSync(join(this.o.out, "metrics.jsonl"), JSON.stringify(record) + "\n");
    this.history.push(record);
    return record;
  }

  private writeBest(state: TrainerState): void {
    const { files, manifest } = compileRetrievalInference(this.r, { data: this.data, weights: weightsOf(state) });
    writeFilesAtomic(this.o.out, { ...files, "manifest.json": JSON.stringify(manifest satisfies RetrievalManifest, null, 2) + "\n" });
  }
}

function recallOf(r: RetrievalEvaluation, metric: RetrievalMetric): number {
  return r.exact.overall.recall[`@${metric.replace("recall_at_", "")}`];
}

/**
 * A retrieval batch as step feeds: the query tower's inputs from the batch rows, the item tower's from the
 * batch rows followed by the extra negatives (tables belong to one tower, so each is gathered once).
 */
export function encodeTowers(r: RetrievalSpec, sig: TrainStepSignature, store: EmbeddingStore, rows: LabelledRow[], negatives: RawRow[], file: string, seed: number): TrainBatch {
  const part = (side: Side, sideRows: RawRow[], domains: number[]) => {
    const spec = sideSpec(r, side);
    const names = new Set(spec.features.map((f) => f.name));
    const subset = { ...sig, lookups: sig.lookups.filter((l) => names.has(l.feature)), tables: sig.tables.filter((x) => names.has(x.name)) };
    return encodeTrainBatch(spec, subset, store, sideRows, domains, file, seed);
  };
  const query = part("query", rows, rows.map((x) => x.domain));
  const item = part("item", [...rows, ...negatives], new Array(rows.length + negatives.length).fill(0));
  delete item.feeds[DOMAIN_ID_INPUT];
  return { feeds: { ...item.feeds, ...query.feeds }, touched: new Map([...query.touched, ...item.touched]) };
}
