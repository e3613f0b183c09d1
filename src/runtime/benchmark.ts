import { compileInference } from "../compiler/inference.js";
import { compileTrainStep } from "../compiler/train-step.js";
import { costReport } from "../plan/cost.js";
import type { DispatchMode } from "../plan/plan.js";
import { resolve } from "../plan/resolve.js";
import type { Spec } from "../spec/types.js";
import { encodeBatch } from "./batch.js";
import { createSession, type ExecutionProvider } from "./session.js";
import { initialStepState, runTrainStep } from "./step-runner.js";
import { encodeTrainBatch } from "./train-batch.js";
import { syntheticModelData, syntheticRows } from "./synthetic-rows.js";

/** One measured configuration of `mdr bench`. */
export interface BenchResult {
  what: "inference" | "train step";
  dispatch: string;
  threads: number;
  batch: number;
  rows_per_s: number;
  /** Milliseconds per run (inference) or per step (training). */
  ms: number;
  /** Multiply-adds one row activates (averaged over domains); a train step counts ≈ 3 × the forward pass. */
  macs_per_row: number;
  gflops: number;
}

export interface BenchOptions {
  dispatch?: DispatchMode;
  ep?: ExecutionProvider;
  /** Measuring time per configuration. */
  seconds?: number;
}

/**
 * Median-of-rounds time of `run`: three rounds of at least `seconds / 3` each (after two warm-up calls),
 * so one noisy round on a shared machine does not move the figure.
 */
export async function timeIt(run: () => Promise<unknown>, seconds: number): Promise<number> {
  for (let i = 0; i < 2; i++) await run();
  const rounds: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < (seconds * 1000) / 3 || n < 2) {
      await run();
      n++;
    }
    rounds.push((performance.now() - t0) / n);
  }
  return rounds.sort((a, b) => a - b)[1];
}

function forwardMacs(spec: Spec, dispatch?: DispatchMode): number {
  const domains = costReport(resolve(spec, { dispatch })).domains;
  return Math.round(domains.reduce((s, d) => s + (dispatch === "dense" ? d.denseMacs : d.activatedMacs), 0) / domains.length);
}

function result(what: BenchResult["what"], dispatch: string, threads: number, batch: number, ms: number, macs: number): BenchResult {
  const rowsPerS = (batch * 1000) / ms;
  return { what, dispatch, threads, batch, rows_per_s: Math.round(rowsPerS), ms: Number(ms.toFixed(3)), macs_per_row: macs, gflops: Number(((2 * macs * rowsPerS) / 1e9).toFixed(2)) };
}

/** The compiled inference model on synthetic raw rows (encoded once): rows/s and time per run. */
export async function benchInference(spec: Spec, batch: number, threads: number, options: BenchOptions = {}): Promise<BenchResult> {
  const data = syntheticModelData(spec);
  const { files, manifest } = compileInference(spec, { data, dispatch: options.dispatch });
  const session = await createSession(files["model.onnx"], { ep: options.ep, threads });
  const feeds = encodeBatch(manifest, syntheticRows(spec, batch, 1), "synthetic");
  const ms = await timeIt(() => session.run(feeds), options.seconds ?? 1);
  await session.release();
  return result("inference", options.dispatch ?? "spec", threads, batch, ms, forwardMacs(spec, options.dispatch));
}

/**
 * Whole training steps as `mdr train`'s main thread runs them (the step graph; parameters, optimizer state
 * and touched embedding rows written back), on four synthetic batches cycled. The batches are encoded
 * beforehand, as training's batch worker encodes them beside the running step; PyTorch's reference
 * likewise times tensors already in memory.
 */
export async function benchTrainStep(spec: Spec, batch: number, threads: number, options: BenchOptions = {}): Promise<BenchResult> {
  const data = syntheticModelData(spec);
  const step = compileTrainStep(spec, { data, dispatch: options.dispatch });
  const session = await createSession(step.model, { ep: options.ep, threads, shapesVary: true });
  const state = initialStepState(spec, step, data);
  const batches = Array.from({ length: 4 }, (_, i) => {
    const rows = syntheticRows(spec, batch, i + 1);
    return { encoded: encodeTrainBatch(spec, step.signature, state.store, rows, rows.map((r) => r.domain), "synthetic"), labels: Float32Array.from(rows, (r) => r.label) };
  });
  let n = 0;
  const ms = await timeIt(() => {
    const b = batches[n++ % batches.length];
    return runTrainStep(session, spec, step, state, { batch: { encoded: b.encoded }, labels: b.labels, lr: 1e-3, embeddingLr: 1e-3, step: n, seed: n, file: "synthetic" });
  }, options.seconds ?? 2);
  await session.release();
  return result("train step", options.dispatch ?? "spec", threads, batch, ms, 3 * forwardMacs(spec, options.dispatch));
}
