import type { DispatchMode } from "../graph/dispatch.js";
import type { Spec } from "../spec/types.js";
import type { EvaluationMetrics } from "./metrics.js";
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
