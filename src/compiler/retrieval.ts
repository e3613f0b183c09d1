import { backprop } from "../autodiff/backprop.js";
import type { DispatchMode } from "../graph/dispatch.js";
import { loadBalanceLoss, mutualInformationLoss } from "../graph/losses.js";
import { Graph } from "../graph/ops.js";
import { buildTower, sampledSoftmaxLoss, type TowerGraph } from "../graph/retrieval.js";
import type { Tensor } from "../graph/tensor.js";
import { lossTermOutput, ROWS_PREFIX, rowsInput, SEED_INPUT, slotName, updated } from "../graph/names.js";
import { emitModel } from "../onnx/emit.js";
import { DEFAULT_OPSET } from "../onnx/opset.js";
import { optimizerUpdate, stateSlots } from "../optim/optimizers.js";
import { emptyModelData, type ModelData } from "../plan/model-data.js";
import { resolve } from "../plan/resolve.js";
import { fieldsSpec, sideSpec } from "../spec/retrieval.js";
import { SIDES, type RetrievalSpec, type Side, type Spec } from "../spec/types.js";
import { packageModel, specHash, type CompileOptions, type Manifest } from "./inference.js";
import type { CompiledTrainStep, TrainStepSignature } from "./train-step.js";
import { mdrcVersion } from "./version.js";

/** The manifest of a retrieval model folder: both towers' manifests and how to compare their embeddings. */
export interface RetrievalManifest {
  format: "mdrc-retrieval/1";
  task: "retrieval";
  model: string;
  mdrc_version: string;
  spec_sha256: string;
  /** Column of the item key. */
  item_id: string;
  embedding: { dim: number; normalize: boolean; score: "dot" };
  query: Manifest;
  item: Manifest;
  spec: RetrievalSpec;
}

export const SIDE_FILES: Record<Side, string> = { query: "query_model.onnx", item: "item_model.onnx" };

/** Input names of the train step besides the towers' own. */
export const ITEM_KEY_INPUT = "item_key";
export const ITEM_LOG_Q_INPUT = "item_log_q";
/** A learned temperature is kept as log(1/τ), so it stays positive. */
export const LOG_SCALE_PARAM = "embedding.log_scale";

/** Both towers as raw-values-in ONNX models (`query_model.onnx`, `item_model.onnx`) + one manifest. */
export function compileRetrievalInference(r: RetrievalSpec, options: CompileOptions = {}): { files: Record<string, Uint8Array>; manifest: RetrievalManifest } {
  const data = options.data ?? emptyModelData();
  const files: Record<string, Uint8Array> = {};
  const sides = {} as Record<Side, Manifest>;
  for (const side of SIDES) {
    const spec = sideSpec(r, side);
    const g = new Graph(options.opset ?? DEFAULT_OPSET, false);
    g.trained = options.weights;
    const tower = buildTower(g, side, resolve(spec, { dispatch: options.dispatch, data, towerWidth: r.embedding.dim }), data, { opset: g.opset, dispatch: options.dispatch }, r.embedding);
    g.output(tower.embedding, "embedding", `${side} embedding [N, ${r.embedding.dim}]${r.embedding.normalize ? ", unit length" : ""}; score = query · item`);
    const built = packageModel(spec, { graph: g, features: tower.features }, data, options, SIDE_FILES[side]);
    Object.assign(files, built.files);
    sides[side] = built.manifest;
  }
  const manifest: RetrievalManifest = {
    format: "mdrc-retrieval/1", task: "retrieval", model: r.model, mdrc_version: mdrcVersion, spec_sha256: specHash(r as unknown as Spec),
    item_id: r.item.id, embedding: { dim: r.embedding.dim, normalize: r.embedding.normalize, score: "dot" }, query: sides.query, item: sides.item, spec: r,
  };
  return { files, manifest };
}

export interface RetrievalStepOptions {
  opset?: number;
  dispatch?: DispatchMode;
  data?: ModelData;
  gradientsOnly?: boolean;
}

/**
 * The retrieval training step as one ONNX graph: both towers in training mode on a batch of positive
 * pairs, the in-batch sampled softmax (with logQ correction), the query router's losses, gradients, and
 * the optimizer update. The host feeds what ranking steps take, plus `item_key` (equal keys are the same
 * item) and `item_log_q`.
 */
export function compileRetrievalTrainStep(r: RetrievalSpec, options: RetrievalStepOptions = {}): CompiledTrainStep {
  const data = options.data ?? emptyModelData();
  const g = new Graph(options.opset ?? DEFAULT_OPSET, true);
  const towers = {} as Record<Side, TowerGraph>;
  for (const side of SIDES) {
    const spec = sideSpec(r, side);
    towers[side] = buildTower(g, side, resolve(spec, { dispatch: options.dispatch, data, towerWidth: r.embedding.dim }), data, { opset: g.opset, dispatch: options.dispatch, training: true }, r.embedding);
  }
  const terms = lossTerms(g, r, towers);
  const total = terms.reduce<Tensor | undefined>((acc, t) => (acc ? g.add(acc, t.weighted) : t.weighted), undefined)!;
  g.output(total, "loss", "weighted sum of the loss terms");
  for (const t of terms) g.output(t.value, lossTermOutput(t.name), `loss term ${t.name} (before its weight)`);

  const trainable = [...g.parameters].filter((n) => !g.states.has(n)).map((n) => g.values.get(n)!);
  const rowsInputs = g.inputs.filter((i) => i.name.startsWith(ROWS_PREFIX));
  const grads = backprop(g, total, [...trainable, ...rowsInputs]);
  const slots = stateSlots(r.train);
  if (options.gradientsOnly) {
    for (const t of [...trainable, ...rowsInputs]) g.output(grads.get(t.name)!, `${t.name}::grad`);
  } else {
    const lr = g.input("lr", "float32", [], "learning rate of dense parameters");
    const embeddingLr = g.input("embedding_lr", "float32", [], "learning rate of embedding rows");
    const step = g.input("step", "float32", [], "1-based step number");
    for (const t of [...trainable, ...rowsInputs]) {
      const states = slots.map((s) => g.input(slotName(t.name, s), "float32", [...t.shape]));
      const u = optimizerUpdate(g, r.train, { param: t, grad: grads.get(t.name)!, states, lr: t.name.startsWith(ROWS_PREFIX) ? embeddingLr : lr, step });
      g.output(u.param, updated(t.name));
      u.states.forEach((s, i) => g.output(s, updated(slotName(t.name, slots[i]))));
    }
  }
  for (const side of SIDES) for (const [name, value] of towers[side].stateUpdates) g.output(value, updated(name));

  const fields = fieldsSpec(r);
  const tableRows = { ...towers.query.features.tableRows, ...towers.item.features.tableRows };
  const signature: TrainStepSignature = {
    parameters: trainable.map((t) => ({ name: t.name, shape: t.shape as number[] })),
    states: [...g.states].map((n) => ({ name: n, shape: g.values.get(n)!.shape as number[] })),
    slots,
    tables: Object.entries(tableRows)
      .filter(([name]) => rowsInputs.some((i) => i.name === rowsInput(name)))
      .map(([name, rows]) => ({ name, rows, dim: rowsInputs.find((i) => i.name === rowsInput(name))!.shape[1] as number })),
    lookups: fields.features.filter((f) => f.kind !== "numeric").map((f) => ({ feature: f.name, table: (f as { table?: string }).table ?? f.name, multi: f.kind === "multi_categorical" })),
    lossTerms: terms.map((t) => t.name),
    seeded: g.inputs.some((i) => i.name === SEED_INPUT),
  };
  const bytes = emitModel(g, { producerVersion: mdrcVersion, docString: `mdrc retrieval train step of ${r.model}` }).model;
  return { model: bytes, signature, initial: g.parameterInit };
}

interface LossTerm {
  name: string;
  value: Tensor;
  weighted: Tensor;
}

function lossTerms(g: Graph, r: RetrievalSpec, towers: Record<Side, TowerGraph>): LossTerm[] {
  const terms: LossTerm[] = [];
  const add = (name: string, weight: number, value: Tensor) => terms.push({ name, value, weighted: weight === 1 ? value : g.mul(value, g.scalar(weight)) });
  const domain = towers.query.features.domain;
  const D = r.domain.values.length;
  g.scope("loss", () => {
    const key = g.input(ITEM_KEY_INPUT, "int64", ["M"], "item key of each item row (the batch's, then the extra negatives): equal keys are the same item");
    const logQ = r.loss.logq ? g.input(ITEM_LOG_Q_INPUT, "float32", ["M"], "log of each item row's sampling probability, estimated while streaming") : undefined;
    const scale = r.embedding.learn_temperature
      ? g.exp(g.atRoot(() => g.paramNamed(g.fresh(LOG_SCALE_PARAM), { dtype: "float32", shape: [], data: Float32Array.of(Math.log(1 / r.embedding.temperature)) })))
      : g.scalar(1 / r.embedding.temperature);
    const perRow = sampledSoftmaxLoss(g, towers.query.embedding, towers.item.embedding, scale, key, logQ);
    const weights = r.domain.values.map((v) => r.domain.weights[v] ?? 1);
    const weighted = weights.every((w) => w === 1) ? perRow : g.mul(perRow, g.gather(g.floats(weights), domain));
    add("softmax", r.loss.softmax, g.reduceMean(weighted, [0]));
    const router = r.loss.router ? towers.query.gates.get(r.loss.router) : undefined;
    if (router && r.loss.mutual_information > 0) add("mutual_information", r.loss.mutual_information, mutualInformationLoss(g, router.probabilities, domain, D));
    if (router && r.loss.load_balance > 0) add("load_balance", r.loss.load_balance, loadBalanceLoss(g, router.probabilities, router.selected, router.choices));
    if (r.loss.l2_embedding > 0) {
      const rows = g.inputs.filter((i) => i.name.startsWith(ROWS_PREFIX)).map((i) => g.values.get(i.name)!);
      if (rows.length) add("l2_embedding", r.loss.l2_embedding, rows.map((t) => g.reduceSum(g.mul(t, t), [0, 1])).reduce((a, b) => g.add(a, b)));
    }
  });
  return terms;
}
