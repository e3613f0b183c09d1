import type { DispatchMode } from "../graph/dispatch.js";
import type { Spec } from "../spec/types.js";
import type { EvaluationMetrics } from "./metrics.js";
import type { GateStatistics } from "./router-stats.js";
import type { ExecutionProvider } from "./session.js";

export interface TrainOptions {
  spec: Spec;
  train: string;
  valid?: string;
  out: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  checkpointEvery?: number;
  ep?: ExecutionProvider;
  threads?: number;
  resume?: boolean;
  /** Replace the run already in `out` (its files only). */
  overwrite?: boolean;
  dispatch?: DispatchMode;
  /** Also evaluate every this many steps (0: only after each epoch). */
  evalEvery?: number;
  /** Checkpoints kept besides the best one. */
  keepCheckpoints?: number;
  shuffleBuffer?: number;
  progress?: (p: Progress) => void;
  log?: (line: string) => void;
  /** Stop (as if interrupted) after this many steps of this run: for tests of resuming. */
  stopAfterSteps?: number;
}

export interface Progress {
  epoch: number;
  epochs: number;
  rowsDone: number;
  rowsTotal: number;
  rowsPerSecond: number;
  loss: number;
}

export interface EvaluationRecord extends EvaluationMetrics {
  epoch: number;
  step: number;
  /** An evaluation at an epoch's end, or every --eval-every steps. */
  at: "epoch" | "step";
  train_loss: number;
  /** Each loss term (unweighted), averaged over the rows trained on since the previous evaluation. */
  loss_terms?: Record<string, number>;
  /** Per gate, on the validation data: expert usage by domain, router–domain mutual information, load balance. */
  routers?: Record<string, GateStatistics>;
}

export interface TrainResult {
  best?: EvaluationRecord;
  history: EvaluationRecord[];
  steps: number;
  epochsRun: number;
  stoppedEarly: boolean;
  rowsPerSecond: number;
  /** Share of the wall time of training steps spent inside ONNX Runtime. */
  ortShare: number;
  skippedRows: number;
}
