import { totalmem } from "node:os";
import type { Spec } from "../spec/types.js";
import type { Report } from "../check/context.js";
import { costReport } from "./cost.js";
import type { ModelPlan } from "./plan.js";

/** Largest tensor mdrc builds: Node's typed arrays and ONNX Runtime's allocations stop around 2³¹ values. */
export const MAX_TENSOR_VALUES = 2 ** 31;

/** Optimizer state arrays kept per parameter. */
export function optimizerSlots(spec: Spec): number {
  const t = spec.train;
  return t.optimizer === "adam" ? 2 : t.optimizer === "adagrad" || (t.momentum ?? 0) > 0 ? 1 : 0;
}

export interface ModelSize {
  /** Dense parameters plus the rows of every table whose size is known (declared, or learned once the plan has data). */
  values: number;
  /** Bytes of weights and optimizer state while training. */
  trainingBytes: number;
  learnedTables: number;
}

export function modelSize(plan: ModelPlan): ModelSize {
  const cost = costReport(plan);
  let values = cost.denseParams;
  let learnedTables = 0;
  for (const t of cost.tables) {
    if (t.rows === undefined) learnedTables++;
    else values += t.rows * t.dim;
  }
  return { values, trainingBytes: values * 4 * (1 + optimizerSlots(plan.spec)), learnedTables };
}

/**
 * Refuses models that cannot be built here, before anything allocates: a table or the dense weights
 * past the tensor limit, or training state larger than this machine's memory.
 */
export function checkSize(plan: ModelPlan, report: Report): void {
  const spec = plan.spec;
  const cost = costReport(plan);
  let tooBig = false;
  spec.features.forEach((f, i) => {
    const t = cost.tables.find((x) => x.feature === f.name);
    if (!t?.rows || t.rows * t.dim <= MAX_TENSOR_VALUES) return;
    tooBig = true;
    const key = f.kind === "numeric" ? "boundaries" : f.hash_buckets !== undefined ? "hash_buckets" : "range";
    report("model-too-large", `/features/${i}/${key}`, {
      message: `The table of '${f.name}' would have ${fmt(t.rows)} rows × ${t.dim} = ${fmt(t.rows * t.dim)} values; the limit of one tensor is ${fmt(MAX_TENSOR_VALUES)}.`,
      hint: "Use fewer hash buckets or a narrower range, or a smaller dim.",
    });
  });
  if (tooBig) return;
  if (cost.denseParams > MAX_TENSOR_VALUES) {
    report("model-too-large", "/model", {
      message: `The model has ${fmt(cost.denseParams)} dense parameters; mdrc builds at most ${fmt(MAX_TENSOR_VALUES)}.`,
      hint: "Use fewer or narrower experts, towers or domain copies (`mdr inspect` shows where the parameters are).",
    });
    return;
  }
  const size = modelSize(plan);
  if (!fitsInMemory(size)) {
    report("model-too-large", "/model", {
      message: `Training this model needs ${gib(size.trainingBytes)} for weights and ${spec.train.optimizer} state alone; this machine has ${gib(totalmem())} of memory.`,
      hint: "Shrink the largest tables or layers (`mdr inspect` lists them).",
    });
  }
}

/** Weights and optimizer state leave a fifth of this machine's memory for everything else. */
export function fitsInMemory(size: Pick<ModelSize, "trainingBytes">): boolean {
  return size.trainingBytes <= 0.8 * totalmem();
}

export function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

export function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}
