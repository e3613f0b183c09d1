import { backprop } from "../autodiff/backprop.js";
import type { DispatchMode } from "../graph/dispatch.js";
import { emptyModelData, type ModelData } from "../plan/model-data.js";
import { binaryCrossEntropy, loadBalanceLoss, mutualInformationLoss } from "../graph/losses.js";
import { buildModel, type ModelGraph } from "../graph/model.js";
import type { Graph } from "../graph/ops.js";
import type { Tensor, TensorData } from "../graph/tensor.js";
import { emitModel } from "../onnx/emit.js";
import { DEFAULT_OPSET } from "../onnx/opset.js";
import { optimizerUpdate, stateSlots } from "../optim/optimizers.js";
import type { Spec } from "../spec/types.js";
import { mdrcVersion } from "./version.js";
import { lossTermOutput, ROWS_PREFIX, rowsInput, SEED_INPUT, slotName, updated } from "../graph/names.js";

export interface TrainStepOptions {
  opset?: number;
  dispatch?: DispatchMode;
  data?: ModelData;
  /** Leave the optimizer out: outputs are the loss terms and the gradients (for checks and custom loops). */
  gradientsOnly?: boolean;
}

/** How the host talks to a train-step graph. */
export interface TrainStepSignature {
  /** Trainable dense parameters with their initial values (optimizer state starts at zero). */
  parameters: { name: string; shape: number[] }[];
  /** Non-trainable state (running statistics) updated by each step. */
  states: { name: string; shape: number[] }[];
  /** Optimizer slots per parameter (names are `${param}::${slot}`). */
  slots: string[];
  /** Embedding tables held on the host; the step sees their batch rows `rows.<table>`. */
  tables: { name: string; dim: number; rows: number }[];
  /** Per categorical field: the table whose rows its `index.<field>` input points into. */
  lookups: { feature: string; table: string; multi: boolean }[];
  /** Loss terms reported as outputs `loss.<term>`; `loss` is their weighted sum. */
  lossTerms: string[];
  /** Whether the step takes a `seed` input (dropout or router noise). */
  seeded: boolean;
}

export interface CompiledTrainStep {
  model: Uint8Array;
  signature: TrainStepSignature;
  /** Initial values of dense parameters and states, by name. */
  initial: Map<string, TensorData>;
}

/**
 * The training step as one ordinary ONNX graph: forward in training mode, the loss terms of the spec,
 * reverse-mode gradients, and the optimizer update of dense parameters and of the batch's embedding rows.
 */
export function compileTrainStep(spec: Spec, options: TrainStepOptions = {}): CompiledTrainStep {
  const data = options.data ?? emptyModelData();
  const model = buildModel(spec, data, { opset: options.opset ?? DEFAULT_OPSET, dispatch: options.dispatch, training: true });
  const g = model.graph;
  const label = g.input("label", "float32", ["N"], "label of each row, 0 or 1");
  const terms = lossTerms(g, spec, model, label);
  const total = terms.reduce<Tensor | undefined>((acc, t) => (acc ? g.add(acc, t.weighted) : t.weighted), undefined)!;
  g.output(total, "loss", "weighted sum of the loss terms");
  for (const t of terms) g.output(t.value, lossTermOutput(t.name), `loss term ${t.name} (before its weight)`);
  g.output(model.logit, "logit", "log-odds per row");

  const trainable = [...g.parameters].filter((n) => !g.states.has(n)).map((n) => g.values.get(n)!);
  const rowsInputs = g.inputs.filter((i) => i.name.startsWith(ROWS_PREFIX));
  const grads = backprop(g, total, [...trainable, ...rowsInputs]);

  const slots = stateSlots(spec.train);
  if (options.gradientsOnly) {
    for (const t of [...trainable, ...rowsInputs]) g.output(grads.get(t.name)!, `${t.name}::grad`);
  } else {
    const lr = g.input("lr", "float32", [], "learning rate of dense parameters");
    const embeddingLr = g.input("embedding_lr", "float32", [], "learning rate of embedding rows");
    const step = g.input("step", "float32", [], "1-based step number");
    for (const t of [...trainable, ...rowsInputs]) {
      const states = slots.map((s) => g.input(slotName(t.name, s), "float32", [...t.shape]));
      const u = optimizerUpdate(g, spec.train, { param: t, grad: grads.get(t.name)!, states, lr: t.name.startsWith(ROWS_PREFIX) ? embeddingLr : lr, step });
      g.output(u.param, updated(t.name));
      u.states.forEach((s, i) => g.output(s, updated(slotName(t.name, slots[i]))));
    }
  }
  for (const [name, value] of model.stateUpdates) g.output(value, updated(name));

  const signature: TrainStepSignature = {
    parameters: trainable.map((t) => ({ name: t.name, shape: t.shape as number[] })),
    states: [...g.states].map((n) => ({ name: n, shape: g.values.get(n)!.shape as number[] })),
    slots,
    tables: Object.entries(model.features.tableRows)
      .filter(([name]) => rowsInputs.some((r) => r.name === rowsInput(name)))
      .map(([name, rows]) => ({ name, rows, dim: rowsInputs.find((r) => r.name === rowsInput(name))!.shape[1] as number })),
    lookups: spec.features.filter((f) => f.kind !== "numeric").map((f) => ({
      feature: f.name,
      table: (f as { table?: string }).table ?? f.name,
      multi: f.kind === "multi_categorical",
    })),
    lossTerms: terms.map((t) => t.name),
    seeded: g.inputs.some((i) => i.name === SEED_INPUT),
  };
  const bytes = emitModel(g, { producerVersion: mdrcVersion, docString: `mdrc train step of ${spec.model}` }).model;
  return { model: bytes, signature, initial: g.parameterInit };
}

interface LossTerm {
  name: string;
  value: Tensor;
  weighted: Tensor;
}

function lossTerms(g: Graph, spec: Spec, model: ModelGraph, label: Tensor): LossTerm[] {
  const terms: LossTerm[] = [];
  const add = (name: string, weight: number, value: Tensor) => terms.push({ name, value, weighted: weight === 1 ? value : g.mul(value, g.scalar(weight)) });
  const domain = model.features.domain;
  const D = spec.domain.values.length;
  g.scope("loss", () => {
    if (spec.loss.bce > 0) {
      const perRow = binaryCrossEntropy(g, model.logit, label);
      const weights = spec.domain.values.map((v) => spec.domain.weights[v] ?? 1);
      const weighted = weights.every((w) => w === 1) ? perRow : g.mul(perRow, g.gather(g.floats(weights), domain));
      add("bce", spec.loss.bce, g.reduceMean(weighted, [0]));
    }
    const router = spec.loss.router ? model.gates.get(spec.loss.router) : undefined;
    if (router && spec.loss.mutual_information > 0) {
      add("mutual_information", spec.loss.mutual_information, mutualInformationLoss(g, router.probabilities, domain, D));
    }
    if (router && spec.loss.load_balance > 0) {
      add("load_balance", spec.loss.load_balance, loadBalanceLoss(g, router.probabilities, router.selected, router.choices));
    }
    if (spec.loss.l2_embedding > 0) {
      const rows = g.inputs.filter((i) => i.name.startsWith(ROWS_PREFIX));
      if (rows.length) {
        const sums = rows.map((r) => g.reduceSum(g.mul(g.values.get(r.name)!, g.values.get(r.name)!), [0, 1]));
        add("l2_embedding", spec.loss.l2_embedding, sums.reduce((a, b) => g.add(a, b)));
      }
    }
  });
  return terms;
}
