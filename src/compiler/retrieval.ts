import type { DispatchMode } from "../graph/dispatch.js";
import { batchRows } from "../graph/features/training.js";
import { Graph } from "../graph/ops.js";
import { buildTower, sampledSoftmaxLoss, type TowerGraph } from "../graph/retrieval.js";
import type { Tensor } from "../graph/tensor.js";
import { DEFAULT_OPSET } from "../onnx/opset.js";
import { emptyModelData, type ModelData } from "../plan/model-data.js";
import { resolve } from "../plan/resolve.js";
import { fieldsSpec, sideSpec } from "../spec/retrieval.js";
import { SIDES, type RetrievalSpec, type Side, type Spec } from "../spec/types.js";
import { packageModel, specHash, type CompileOptions, type Manifest } from "./inference.js";
import type { ByteParts } from "../onnx/emit.js";
import { domainWeightedMean, finishTrainStep, LossTerms, type CompiledTrainStep, type StepParts } from "./train-step.js";
import { mdrcVersion } from "./version.js";

export const RETRIEVAL_FORMAT = "mdrc-retrieval/1" as const;

/** The manifest of a retrieval model folder: both towers' manifests and how to compare their embeddings. */
export interface RetrievalManifest {
  format: typeof RETRIEVAL_FORMAT;
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
export function compileRetrievalInference(r: RetrievalSpec, options: CompileOptions = {}): { files: Record<string, ByteParts>; manifest: RetrievalManifest } {
  const data = options.data ?? emptyModelData();
  const files: Record<string, ByteParts> = {};
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
    format: RETRIEVAL_FORMAT, task: "retrieval", model: r.model, mdrc_version: mdrcVersion, spec_sha256: specHash(r as unknown as Spec),
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
  const stateUpdates = new Map<string, Tensor>();
  for (const side of SIDES) {
    const spec = sideSpec(r, side);
    towers[side] = buildTower(g, side, resolve(spec, { dispatch: options.dispatch, data, towerWidth: r.embedding.dim }), data, { opset: g.opset, dispatch: options.dispatch, training: true }, r.embedding);
  }
  const terms = lossTerms(g, r, towers);
  for (const side of SIDES) for (const [name, value] of towers[side].stateUpdates) stateUpdates.set(name, value);
  return finishTrainStep(g, {
    train: r.train, terms, stateUpdates, tableRows: { ...towers.query.features.tableRows, ...towers.item.features.tableRows }, features: fieldsSpec(r).features,
    gradientsOnly: options.gradientsOnly, docString: `mdrc retrieval train step of ${r.model}`,
  });
}

function lossTerms(g: Graph, r: RetrievalSpec, towers: Record<Side, TowerGraph>): StepParts["terms"] {
  const terms = new LossTerms(g);
  const domain = towers.query.features.domain;
  g.scope("loss", () => {
    const key = g.input(ITEM_KEY_INPUT, "int64", ["M"], "item key of each item row (the batch's, then the extra negatives): equal keys are the same item");
    const logQ = r.loss.logq ? g.input(ITEM_LOG_Q_INPUT, "float32", ["M"], "log of each item row's sampling probability, estimated while streaming") : undefined;
    const scale = r.embedding.learn_temperature
      ? g.exp(g.atRoot(() => g.paramNamed(g.fresh(LOG_SCALE_PARAM), { dtype: "float32", shape: [], data: Float32Array.of(Math.log(1 / r.embedding.temperature)) })))
      : g.scalar(1 / r.embedding.temperature);
    const perRow = sampledSoftmaxLoss(g, towers.query.embedding, towers.item.embedding, scale, key, logQ);
    terms.add("softmax", r.loss.softmax, domainWeightedMean(g, perRow, domain, r.domain));
    terms.addAuxiliary(r.loss, towers.query.gates, domain, r.domain.values.length, batchRows(g, { ...towers.query.features.tableRows, ...towers.item.features.tableRows }));
  });
  return terms.list;
}
