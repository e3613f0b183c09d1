import ort from "onnxruntime-node";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { compileInference } from "../compiler/inference.js";
import { embeddingTable } from "../graph/names.js";
import type { CompiledTrainStep } from "../compiler/train-step.js";
import type { ModelData } from "../plan/model-data.js";
import type { RankingMetric, Spec } from "../spec/types.js";
import { saveCheckpoint, saveEpochCheckpoints, weightsOf, type RunPosition, type TrainerState } from "./checkpoint-layout.js";
import type { DataSummary } from "./data-stats.js";
import { stoppingScore, type EvaluationMetrics } from "./metrics.js";
import { Interrupted, isInterrupted, writeFilesAtomic } from "./output.js";
import { evaluateFile } from "./scoring.js";
import { createSession } from "./session.js";
import { EpochAhead, sameJob, type EpochBatch, type EpochJob } from "./batch-pipeline.js";
import { batchFeeds } from "./train-batch.js";
import { TRAIN_LOG } from "./run-folder.js";
import { runTrainStep } from "./step-runner.js";
import type { EvaluationRecord, TrainOptions, TrainResult } from "./train-options.js";

/** What a training run works with once its folder, data and step graph are ready. */
export interface LoopSetup {
  options: TrainOptions;
  spec: Spec;
  summary: DataSummary;
  data: ModelData;
  step: CompiledTrainStep;
  session: ort.InferenceSession;
  state: TrainerState;
  history: EvaluationRecord[];
  log: (line: string) => void;
  /** The first epoch, started while the session was made (see firstEpochAhead). */
  ahead?: EpochAhead;
}

/** Epoch `epoch` (0-based) of a run from batch `skip` on, its first step `firstStep`. */
function epochJob(s: Pick<LoopSetup, "options" | "spec" | "step" | "data">, epoch: number, skip: number, firstStep: number): EpochJob {
  return {
    file: s.options.train, spec: s.spec, signature: s.step.signature, data: s.data, shuffleBuffer: s.options.shuffleBuffer ?? 200_000,
    stream: `shuffle-epoch${epoch}`, skip, firstStep,
  };
}

/**
 * The epoch a run starts (or resumes) with, its worker started now: it fills the shuffle buffer while the
 * main thread makes the weights and the session, which the first step otherwise waited for.
 */
export function firstEpochAhead(s: Pick<LoopSetup, "options" | "spec" | "step" | "data">, at: RunPosition): EpochAhead | undefined {
  return at.epoch < s.spec.train.epochs ? new EpochAhead(epochJob(s, at.epoch, at.batchInEpoch, at.step + 1)) : undefined;
}

/**
 * Epochs of shuffled batches through the train step, with evaluation, checkpoints, the best model and early
 * stopping. State that survives an interruption lives in `state` (saved in every checkpoint); the rest is
 * this run's bookkeeping.
 */
export class TrainingLoop {
  private readonly out: string;
  private readonly ckptDir: string;
  private readonly keep: number;
  private readonly metricName: EvaluationOptionsMetric;
  private rowsSeen = 0;
  private ortMs = 0;
  private stepsThisRun = 0;
  private readonly started = performance.now();
  // Per epoch:
  private batchIndex = 0;
  private rowsInEpoch = 0;
  private epochLoss = new LossMeans();
  /** Loss terms since the last evaluation, recorded with it. */
  private sinceEvaluation = new LossMeans();
  /** The training curve: mean loss and terms over windows of `logEvery` steps, for `mdr report`. */
  private readonly logEvery: number;
  private window = new LossMeans();
  /** A step evaluation runs before the next step, so the one due at an epoch's last step is the epoch's own. */
  private evaluationDue = false;
  /** The next epoch, started early. */
  private ahead?: EpochAhead;

  constructor(private readonly s: LoopSetup) {
    this.out = s.options.out;
    this.ckptDir = join(this.out, "checkpoints");
    this.keep = s.options.keepCheckpoints ?? 2;
    this.metricName = s.spec.train.early_stopping.metric;
    this.logEvery = Math.max(1, Math.round(Math.ceil(s.summary.rows / s.spec.train.batch_size) / 50)); // ~50 points an epoch
    this.ahead = s.ahead;
  }

  async run(): Promise<TrainResult> {
    const { spec, state, history } = this.s;
    let stoppedEarly = false;
    try {
      while (state.epoch < spec.train.epochs) {
        await this.epoch();
        if (await this.endEpoch()) {
          stoppedEarly = true;
          break;
        }
      }
    } finally {
      this.ahead?.cancel();
    }
    const wall = (performance.now() - this.started) / 1000;
    const best = history.filter((h) => h.epoch === state.bestEpoch && h.at !== "step").pop();
    return {
      ...(best ? { best } : {}), history, steps: state.step, epochsRun: state.epoch, stoppedEarly,
      rowsPerSecond: this.rowsSeen / Math.max(wall, 1e-9), ortShare: this.ortMs / 1000 / Math.max(wall, 1e-9), skippedRows: this.s.summary.skipped,
    };
  }

  private score(m: EvaluationMetrics): number {
    return stoppingScore(this.metricName as RankingMetric, m); // the checker keeps retrieval metrics out of ranking specs
  }

  private async evaluate(trainLoss: number, at: "step" | "epoch"): Promise<EvaluationRecord | undefined> {
    const { options, spec, data, state } = this.s;
    if (!options.valid) return undefined;
    // With the routers' debug outputs, so each evaluation also says what the experts did per domain. The
    // embedding tables are fed from the store as they are, not copied into the model (and again by ONNX
    // Runtime): a large table would otherwise be held three times while the run evaluates.
    const tables = [...state.store.tables.values()];
    const weightsAsInputs = new Set(tables.map((t) => embeddingTable(t.name)));
    const { files, manifest } = compileInference(spec, { data, weights: weightsOf(state), debugOutputs: spec.gates.length > 0, weightsAsInputs });
    const fed = Object.fromEntries(tables.map((t) => [embeddingTable(t.name), new ort.Tensor("float32", t.values, [t.rows, t.dim])]));
    const session = await createSession(files["model.onnx"], { threads: options.threads, arena: false });
    const m = await evaluateFile(session, manifest, spec, options.valid, { fed, checked: true });
    await session.release();
    const terms = this.sinceEvaluation.terms();
    this.sinceEvaluation = new LossMeans();
    const record: EvaluationRecord = { epoch: state.epoch + 1, step: state.step, at, train_loss: trainLoss, ...(Object.keys(terms).length ? { loss_terms: terms } : {}), ...m };
    appendFileSync(join(this.out, "metrics.jsonl"), JSON.stringify(record) + "\n");
    this.s.history.push(record);
    return record;
  }

  /** Epoch `epoch` (0-based) from batch `skip` on, its first step `firstStep` (by default the one after the current). */
  private epochJob(epoch: number, skip: number, firstStep = this.s.state.step + 1): EpochJob {
    return epochJob(this.s, epoch, skip, firstStep);
  }

  private async epoch(): Promise<void> {
    const { state } = this.s;
    this.batchIndex = this.rowsInEpoch = 0;
    this.epochLoss = new LossMeans();
    this.evaluationDue = false;
    const job = this.epochJob(state.epoch, state.batchInEpoch);
    let ahead = this.ahead;
    this.ahead = undefined;
    if (!ahead || !sameJob(ahead.job, job)) {
      ahead?.cancel();
      ahead = new EpochAhead(job);
    }
    for await (const b of ahead.take()) {
      this.batchIndex++;
      if (b.kind === "skipped") {
        this.rowsInEpoch += b.rows; // already trained on before the interruption
        continue;
      }
      if (b.step === job.firstStep) this.startNextEpochEarly(job);
      await this.batch(b);
    }
  }

  /**
   * A file that fits the shuffle buffer is read whole before an epoch's first batch, and the main thread
   * would wait for that at every epoch: the next epoch's worker starts reading as soon as this epoch's
   * first batch is in, and holds at most the file's rows meanwhile. (Larger files start their next epoch
   * at the checkpoint, as endEpoch does: their buffer would otherwise sit full through the evaluation.)
   * Its first step is predicted from the rows the first pass counted; were it wrong, `epoch` would see a
   * different job and start afresh, so the prediction can cost time, never a wrong step.
   */
  private startNextEpochEarly(job: EpochJob): void {
    const { spec, state, summary } = this.s;
    if (this.ahead || state.epoch + 1 >= spec.train.epochs || summary.rows > job.shuffleBuffer) return;
    const batches = Math.ceil(summary.rows / spec.train.batch_size);
    this.ahead = new EpochAhead(this.epochJob(state.epoch + 1, 0, job.firstStep + batches - job.skip));
  }

  private async batch(b: Extract<EpochBatch, { kind: "batch" }>): Promise<void> {
    const { options, spec, state } = this.s;
    const t = spec.train;
    const rows = b.encoded.rows;
    this.rowsInEpoch += rows;
    if (this.evaluationDue) {
      this.evaluationDue = false;
      const r = await this.evaluate(this.epochLoss.loss(), "step");
      if (r) this.s.log(`step ${r.step}: train loss ${r.train_loss.toFixed(4)}, valid ${this.metricName} ${Math.abs(this.score(r)).toFixed(4)}`);
    }
    if (b.step !== state.step + 1) throw new Error(`batch worker out of step: got step ${b.step}, expected ${state.step + 1}`);
    state.step++;
    // The feeds view the host tables themselves, so the step gathers rows the previous step's write-back updated.
    const encoded = batchFeeds(this.s.step.signature, state.store, b.encoded);
    const { loss, terms, ortMs } = await runTrainStep(this.s.session, spec, this.s.step, state, {
      batch: { encoded }, labels: b.labels, lr: t.lr, embeddingLr: t.embedding_lr, step: state.step, seed: b.seed, file: options.train,
    }).catch((e) => {
      state.step--;
      throw e;
    });
    this.ortMs += ortMs;
    for (const means of [this.epochLoss, this.sinceEvaluation, this.window]) means.add(loss, terms, rows);
    this.logStep();
    this.rowsSeen += rows;
    state.batchInEpoch = this.batchIndex;
    this.stepsThisRun++;
    const elapsed = (performance.now() - this.started) / 1000;
    options.progress?.({
      epoch: state.epoch + 1, epochs: t.epochs, rowsDone: this.rowsInEpoch, rowsTotal: this.s.summary.rows,
      rowsPerSecond: this.rowsSeen / Math.max(elapsed, 1e-9), loss: this.epochLoss.loss(),
    });
    if (options.evalEvery && state.step % options.evalEvery === 0) this.evaluationDue = true;
    if (this.interrupted()) {
      const path = this.save();
      throw new Interrupted(`interrupted at step ${state.step}; saved ${path} — continue with --resume`);
    }
    if (t.checkpoint_every > 0 && state.step % t.checkpoint_every === 0) this.save();
  }

  /** Appends the window's means to the training curve once it spans `logEvery` steps. */
  private logStep(): void {
    const w = this.window;
    if (w.steps < this.logEvery) return;
    const short = (x: number) => Number(x.toPrecision(6));
    const terms = Object.fromEntries(Object.entries(w.terms()).map(([k, v]) => [k, short(v)]));
    const line = { step: this.s.state.step, epoch: this.s.state.epoch + 1, loss: short(w.loss()), terms };
    appendFileSync(join(this.out, TRAIN_LOG), JSON.stringify(line) + "\n");
    this.window = new LossMeans();
  }

  private interrupted(): boolean {
    const stopAfter = this.s.options.stopAfterSteps;
    return (stopAfter !== undefined && this.stepsThisRun >= stopAfter) || isInterrupted();
  }

  private save(): string {
    return saveCheckpoint(this.s.state, this.ckptDir, this.s.spec, this.s.data, this.keep);
  }

  /** Evaluates, keeps the best model, checkpoints; true when early stopping ends the run. */
  private async endEpoch(): Promise<boolean> {
    const { options, spec, state, log } = this.s;
    const trainLoss = this.epochLoss.loss();
    const record = await this.evaluate(trainLoss, "epoch");
    // The next epoch's worker reads and shuffles while this one is checkpointed (unless a small file's
    // started already, see startNextEpochEarly). Not during the evaluation: its shuffle buffer and the
    // evaluation's working memory together set a run's peak (+90 MB measured).
    if (state.epoch + 1 < spec.train.epochs) this.ahead ??= new EpochAhead(this.epochJob(state.epoch + 1, 0));
    state.epoch++;
    state.batchInEpoch = 0;
    const value = record ? this.score(record) : state.epoch; // without validation data the last epoch is the best
    const best = value > state.bestScore;
    if (best) {
      state.bestScore = value;
      state.bestEpoch = state.epoch;
      state.badEpochs = 0;
      writeBestModel(this.out, spec, this.s.data, state);
    } else {
      state.badEpochs++;
    }
    saveEpochCheckpoints(state, this.ckptDir, spec, this.s.data, this.keep, best);
    if (record) log(`epoch ${state.epoch}: train loss ${trainLoss.toFixed(4)}, valid ${this.metricName} ${Math.abs(value).toFixed(4)}${state.bestEpoch === state.epoch ? " (best)" : ""}`);
    if (options.valid && state.badEpochs >= spec.train.early_stopping.patience && state.epoch < spec.train.epochs) {
      log(`early stopping: ${this.metricName} has not improved for ${state.badEpochs} epoch(s)`);
      return true;
    }
    return false;
  }
}

/** Row-weighted means of the loss and each of its terms over a span of steps. */
class LossMeans {
  steps = 0;
  private rows = 0;
  private lossSum = 0;
  private termSums: Record<string, number> = {};

  add(loss: number, terms: Record<string, number>, rows: number): void {
    this.steps++;
    this.rows += rows;
    this.lossSum += loss * rows;
    for (const [k, v] of Object.entries(terms)) this.termSums[k] = (this.termSums[k] ?? 0) + v * rows;
  }

  /** NaN before any step. */
  loss(): number {
    return this.rows ? this.lossSum / this.rows : NaN;
  }

  terms(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.termSums).map(([k, v]) => [k, v / this.rows]));
  }
}

type EvaluationOptionsMetric = Spec["train"]["early_stopping"]["metric"];

function writeBestModel(out: string, spec: Spec, data: ModelData, state: TrainerState): void {
  const { files, manifest } = compileInference(spec, { data, weights: weightsOf(state) });
  writeFilesAtomic(out, { ...files, "manifest.json": JSON.stringify(manifest, null, 2) + "\n" });
}
