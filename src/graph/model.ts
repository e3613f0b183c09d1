import type { ModelData } from "../plan/model-data.js";
import type { ModelPlan } from "../plan/plan.js";
import { resolve } from "../plan/resolve.js";
import type { Spec } from "../spec/types.js";
import { BuildContext, type BuildOptions, type GateOutputs, type OutputBuilder } from "./components/context.js";
import { gateOutput } from "./components/gate.js";
import { poolOutput } from "./components/pool.js";
import { starOutput } from "./components/star.js";
import { towerLogit } from "./components/tower.js";
import type { FeatureGraph } from "./features/common.js";
import { buildInferenceFeatures } from "./features/inference.js";
import { buildTrainingFeatures } from "./features/training.js";
import { Graph } from "./ops.js";
import type { Tensor } from "./tensor.js";

export type { BuildOptions, GateOutputs } from "./components/context.js";

export interface ModelGraph {
  graph: Graph;
  plan: ModelPlan;
  features: FeatureGraph;
  logit: Tensor;
  probability: Tensor;
  gates: Map<string, GateOutputs>;
  /** Non-trainable state a training step updates (STAR running statistics): state name → new value. */
  stateUpdates: Map<string, Tensor>;
}

/** One builder per component kind. */
const buildOutput: OutputBuilder = (ctx, c) => {
  switch (c.kind) {
    case "pool": return poolOutput(ctx, c);
    case "gate": return gateOutput(ctx, c);
    case "star": return starOutput(ctx, c);
  }
};

/** Every component in the plan's order: a pool's parameters, a gate, a STAR layer; each built once and reused by every reader. */
export function buildComponents(g: Graph, plan: ModelPlan, features: FeatureGraph, options: BuildOptions): BuildContext {
  const ctx = new BuildContext(g, plan, features, options, buildOutput);
  for (const c of plan.order) {
    if (c.kind === "pool") ctx.group(c);
    else ctx.output(c);
  }
  return ctx;
}

/**
 * Builds the model graph of a canonical spec: the input pipeline, then every component in the plan's
 * order (a pool's parameters, a gate, a STAR layer; each built once and reused by every reader), then the
 * tower's logit.
 */
export function buildModel(spec: Spec, data: ModelData, options: BuildOptions): ModelGraph {
  const plan = resolve(spec, { dispatch: options.dispatch, data });
  const g = new Graph(options.opset, options.training ?? false);
  g.trained = options.weights;
  const features = g.training ? buildTrainingFeatures(g, spec, data, spec.train.seed) : buildInferenceFeatures(g, spec, data, spec.train.seed, true, options.tablesFed);
  const ctx = buildComponents(g, plan, features, options);
  const tower = plan.tower;
  let logit2d = g.scope(`tower.${tower.name}`, () => towerLogit(ctx, tower));
  if (ctx.auxLogit) logit2d = g.add(logit2d, ctx.auxLogit);
  const logitVec = g.reshape(logit2d, [-1], "N");
  // A training step reports its own outputs (losses, gradients); only inference names these two.
  const logit = g.training ? logitVec : g.output(logitVec, "logit", "log-odds of a positive label, per row");
  const probability = g.training ? logitVec : g.output(g.sigmoid(logitVec), "probability", "probability of a positive label, per row");
  return { graph: g, plan, features, logit, probability, gates: ctx.gateOutputs, stateUpdates: ctx.stateUpdates };
}
