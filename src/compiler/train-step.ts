import { backprop } from "../autodiff/backprop.js";
import type { DispatchMode } from "../graph/dispatch.js";
import { emptyModelData, type ModelData } from "../plan/model-data.js";
import { binaryCrossEntropy, loadBalanceLoss, mutualInformationLoss } from "../graph/losses.js";
import type { GateOutputs } from "../graph/components/context.js";
import { buildModel } from "../graph/model.js";
import type { Graph } from "../graph/ops.js";
import { sizeOf, type Tensor, type TensorData } from "../graph/tensor.js";
import { emitModel } from "../onnx/emit.js";
import { DEFAULT_OPSET } from "../onnx/opset.js";
import { optimizerUpdate, stateSlots } from "../optim/optimizers.js";
import type { DomainSpec, FeatureSpec, LossSpec, Spec, TrainSpec } from "../spec/types.js";
import { mdrcVersion } from "./version.js";
import { DENSE_PARAMETERS, embeddingTable, lossTermOutput, rowsInput, SEED_INPUT, slotName, touchedInput, updated } from "../graph/names.js";
import { batchRows } from "../graph/features/training.js";

export interface TrainStepOptions {
  opset?: number;
  dispatch?: DispatchMode;
  data?: ModelData;
  /**
   * Leave the optimizer out: outputs are the loss terms and the gradients of the dense parameters and of
   * whole embedding tables (for checks against finite differences and custom loops).
   */
  gradientsOnly?: boolean;
}

/** How the host talks to a train-step graph. */
export interface TrainStepSignature {
  /**
   * Trainable dense parameters with their initial values (optimizer state starts at zero). Each is an input
   * of its own, and all of them, concatenated in this order, are `parameters` (see DENSE_PARAMETERS).
   */
  parameters: { name: string; shape: number[] }[];
  /** Non-trainable state (running statistics) updated by each step. */
  states: { name: string; shape: number[] }[];
  /** Optimizer slots (inputs `parameters::<slot>` and `embedding.<table>.table::<slot>`). */
  slots: string[];
  /**
   * Embedding tables held on the host: a step takes each whole (`embedding.<table>.table` and its slots),
   * with the rows its batch touches (`touched.<table>`), and returns those rows updated.
   */
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
  const terms = new LossTerms(g);
  g.scope("loss", () => {
    if (spec.loss.bce > 0) terms.add("bce", spec.loss.bce, domainWeightedMean(g, binaryCrossEntropy(g, model.logit, label), model.features.domain, spec.domain));
    terms.addAuxiliary(spec.loss, model.gates, model.features.domain, spec.domain.values.length, batchRows(g, model.features.tableRows));
  });
  return finishTrainStep(g, {
    train: spec.train, terms: terms.list, stateUpdates: model.stateUpdates, tableRows: model.features.tableRows, features: spec.features,
    extraOutputs: [[model.logit, "logit", "log-odds per row"]], gradientsOnly: options.gradientsOnly, docString: `mdrc train step of ${spec.model}`,
  });
}

interface LossTerm {
  name: string;
  value: Tensor;
  weighted: Tensor;
}

/** A model's loss terms, each with its value and weighted value, in the order the step reports them. */
export class LossTerms {
  readonly list: LossTerm[] = [];

  constructor(private readonly g: Graph) {}

  add(name: string, weight: number, value: Tensor): void {
    this.list.push({ name, value, weighted: weight === 1 ? value : this.g.mul(value, this.g.scalar(weight)) });
  }

  /** The router's mutual-information and load-balance terms and L2 on the batch's embedding rows (`rows`), where their weights are positive. */
  addAuxiliary(loss: Pick<LossSpec, "mutual_information" | "load_balance" | "l2_embedding" | "router">, gates: Map<string, GateOutputs>, domain: Tensor, domains: number, rows: Tensor[]): void {
    const g = this.g;
    const router = loss.router ? gates.get(loss.router) : undefined;
    if (router && loss.mutual_information > 0) {
      this.add("mutual_information", loss.mutual_information, mutualInformationLoss(g, router.probabilities, domain, domains));
    }
    if (router && loss.load_balance > 0) {
      this.add("load_balance", loss.load_balance, loadBalanceLoss(g, router.probabilities, router.selected, router.choices));
    }
    if (loss.l2_embedding > 0) {
      if (rows.length) {
        const sums = rows.map((r) => g.reduceSum(g.mul(r, r), [0, 1]));
        this.add("l2_embedding", loss.l2_embedding, sums.reduce((a, b) => g.add(a, b)));
      }
    }
  }
}

/** The mean over rows of a per-row loss, each row weighted by its domain's weight (as torch's `weight=`). */
export function domainWeightedMean(g: Graph, perRow: Tensor, domain: Tensor, d: DomainSpec): Tensor {
  const weights = d.values.map((v) => d.weights[v] ?? 1);
  const weighted = weights.every((w) => w === 1) ? perRow : g.mul(perRow, g.gather(g.floats(weights), domain));
  return g.reduceMean(weighted, [0]);
}

export interface StepParts {
  train: TrainSpec;
  terms: LossTerm[];
  stateUpdates: Map<string, Tensor>;
  /** Rows of each embedding table (owner feature → rows). */
  tableRows: Record<string, number>;
  /** Every field the host encodes for the step. */
  features: FeatureSpec[];
  /** Outputs reported after the loss terms (the ranking step's logit). */
  extraOutputs?: [Tensor, string, string][];
  gradientsOnly?: boolean;
  docString: string;
}

/**
 * What every training step shares once its forward and loss terms are built: the loss outputs,
 * reverse-mode gradients of dense parameters and batch embedding rows, the optimizer update (or the
 * gradients alone), the state updates, and the signature the host drives it by.
 */
export function finishTrainStep(g: Graph, p: StepParts): CompiledTrainStep {
  const total = p.terms.reduce<Tensor | undefined>((acc, t) => (acc ? g.add(acc, t.weighted) : t.weighted), undefined)!;
  g.output(total, "loss", "weighted sum of the loss terms");
  for (const t of p.terms) g.output(t.value, lossTermOutput(t.name), `loss term ${t.name} (before its weight)`);
  for (const [t, name, doc] of p.extraOutputs ?? []) g.output(t, name, doc);

  const trainable = [...g.parameters].filter((n) => !g.states.has(n)).map((n) => g.values.get(n)!);
  const tables = Object.entries(p.tableRows).filter(([name]) => g.values.has(rowsInput(name)))
    .map(([name, rows]) => ({ name, rows, batchRows: g.values.get(rowsInput(name))! }));
  const slots = stateSlots(p.train);
  if (p.gradientsOnly) {
    // Gradients of whole tables (the gathered rows scattered back), for checks against finite differences.
    const wrt = [...trainable, ...tables.map((t) => g.values.get(embeddingTable(t.name))!)];
    const grads = backprop(g, total, wrt);
    for (const t of wrt) g.output(grads.get(t.name)!, `${t.name}::grad`);
  } else {
    const grads = backprop(g, total, [...trainable, ...tables.map((t) => t.batchRows)]);
    const lr = g.input("lr", "float32", [], "learning rate of dense parameters");
    const embeddingLr = g.input("embedding_lr", "float32", [], "learning rate of embedding rows");
    const step = g.input("step", "float32", [], "1-based step number");
    const update = (param: Tensor, states: Tensor[], lr: Tensor) => {
      const u = optimizerUpdate(g, p.train, { param, grad: grads.get(param.name)!, states, lr, step });
      g.output(u.param, updated(param.name));
      u.states.forEach((s, i) => g.output(s, updated(slotName(param.name, slots[i]))));
    };
    if (trainable.length) {
      // One update of all dense parameters (not ~16 small nodes per parameter) over their concatenation.
      const size = trainable.reduce((n, t) => n + sizeOf(t.shape as number[]), 0);
      const flat = g.input(DENSE_PARAMETERS, "float32", [size], "every trainable dense parameter, flattened and concatenated in the signature's order");
      const grad = g.concat(trainable.map((t) => g.reshape(grads.get(t.name)!, [sizeOf(t.shape as number[])])), 0);
      grads.set(DENSE_PARAMETERS, grad);
      update(flat, slots.map((s) => g.input(slotName(DENSE_PARAMETERS, s), "float32", [size])), lr);
    }
    for (const t of tables) {
      // The touched rows' optimizer state, gathered from the host's whole slot tables like the rows.
      const touched = g.values.get(touchedInput(t.name))!;
      const states = slots.map((s) => g.gather(g.input(slotName(embeddingTable(t.name), s), "float32", [t.rows, t.batchRows.shape[1]]), touched));
      update(t.batchRows, states, embeddingLr);
    }
  }
  for (const [name, value] of p.stateUpdates) g.output(value, updated(name));

  const signature: TrainStepSignature = {
    parameters: trainable.map((t) => ({ name: t.name, shape: t.shape as number[] })),
    states: [...g.states].map((n) => ({ name: n, shape: g.values.get(n)!.shape as number[] })),
    slots,
    tables: tables.map((t) => ({ name: t.name, rows: t.rows, dim: t.batchRows.shape[1] as number })),
    lookups: p.features.filter((f) => f.kind !== "numeric").map((f) => ({
      feature: f.name,
      table: (f as { table?: string }).table ?? f.name,
      multi: f.kind === "multi_categorical",
    })),
    lossTerms: p.terms.map((t) => t.name),
    seeded: g.inputs.some((i) => i.name === SEED_INPUT),
  };
  const bytes = emitModel(g, { producerVersion: mdrcVersion, docString: p.docString }).model;
  return { model: bytes, signature, initial: g.parameterInit };
}
