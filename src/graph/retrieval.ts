import type { ModelData } from "../plan/model-data.js";
import type { ModelPlan } from "../plan/plan.js";
import type { EmbeddingSpec, Side } from "../spec/types.js";
import type { BuildOptions, GateOutputs } from "./components/context.js";
import { towerLogit } from "./components/tower.js";
import type { FeatureGraph } from "./features/common.js";
import { buildInferenceFeatures } from "./features/inference.js";
import { buildTrainingFeatures } from "./features/training.js";
import { buildComponents } from "./model.js";
import type { Graph } from "./ops.js";
import type { Tensor } from "./tensor.js";

/** One tower of a retrieval model in a graph: its input pipeline, components and embedding. */
export interface TowerGraph {
  features: FeatureGraph;
  /** [N, dim], L2-normalised when the spec says so. */
  embedding: Tensor;
  gates: Map<string, GateOutputs>;
  stateUpdates: Map<string, Tensor>;
}

/**
 * A tower from its plan (the ranking-shaped view of one side): the same pipeline and components as a
 * ranking model, the tower's last layer projecting to the embedding width. The item tower has no domain
 * input. Parameter names are model-wide (the checker keeps names unique across towers), so the query and
 * item models and the train step that holds both name every weight alike.
 */
export function buildTower(g: Graph, side: Side, plan: ModelPlan, data: ModelData, options: BuildOptions, embedding: EmbeddingSpec): TowerGraph {
  const spec = plan.spec;
  const features = (g.training ? buildTrainingFeatures : buildInferenceFeatures)(g, spec, data, spec.train.seed, side === "query");
  const ctx = buildComponents(g, plan, features, options);
  const raw = g.scope(`tower.${plan.tower.name}`, () => towerLogit(ctx, plan.tower, embedding.dim));
  const out = embedding.normalize ? g.scope(`embedding.${side}`, () => l2Normalize(g, raw)) : raw;
  return { features, embedding: out, gates: ctx.gateOutputs, stateUpdates: ctx.stateUpdates };
}

/** x / sqrt(Σ x² + ε) per row: a zero row stays finite. */
function l2Normalize(g: Graph, x: Tensor): Tensor {
  return g.div(x, g.sqrt(g.add(g.reduceSum(g.mul(x, x), [1], true), g.scalar(1e-12))));
}

/**
 * In-batch sampled softmax per query row [N]: every other item of the batch, and every extra negative, is a negative. Scores are
 * q·v × scale; with logQ correction each column subtracts log Q(item) (Yi et al., RecSys 2019), so items
 * that are in many batches are not punished for being there. Another row's copy of a row's own positive
 * item is not a negative: it is masked out. The loss is −log softmax(row)[own item]; Softmax is stable
 * at any score range.
 */
export function sampledSoftmaxLoss(g: Graph, q: Tensor, v: Tensor, scale: Tensor, itemKey: Tensor, logQ?: Tensor): Tensor {
  // Columns: the N rows' own items, then any extra negatives (M ≥ N columns in all).
  let scores = g.mul(g.matmul(q, g.transpose(v, [1, 0])), scale); // [N, M]
  if (logQ) scores = g.sub(scores, g.unsqueeze(logQ, [0]));
  const positions = (t: Tensor, shape: Tensor) => g.sub(g.cumSum(g.filled(shape, 1, "int64", [t.shape[0]]), 0), g.ints([1], []));
  const row = positions(q, g.gather(g.shapeOf(q), g.ints([0]))); // 0..N-1
  const column = positions(itemKey, g.shapeOf(itemKey)); // 0..M-1
  const diagonal = g.equal(g.unsqueeze(row, [1]), g.unsqueeze(column, [0]));
  const sameItem = g.equal(g.unsqueeze(g.gather(itemKey, row), [1]), g.unsqueeze(itemKey, [0]));
  const masked = g.where(g.and(sameItem, g.not(diagonal)), g.scalar(-1e4), scores);
  const own = g.reduceSum(g.mul(g.softmax(masked, 1), g.cast(diagonal, "float32")), [1]);
  return g.neg(g.log(g.max(own, g.scalar(1e-30))));
}
