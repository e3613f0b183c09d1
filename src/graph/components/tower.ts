import type { PlannedTower } from "../../plan/plan.js";
import type { ExpertGroup } from "../dispatch.js";
import { mlpForward, mlpParams, type MlpShape } from "../layers.js";
import type { Tensor } from "../tensor.js";
import type { BuildContext } from "./context.js";
import { byDomain } from "./per-domain.js";

/**
 * The tower's output [N, outWidth]: one shared MLP, or each row's own domain's copy. A ranking tower ends
 * in one logit; a retrieval tower in the embedding.
 */
export function towerLogit(ctx: BuildContext, t: PlannedTower, outWidth = 1): Tensor {
  const { g, seed, D } = ctx;
  const input = ctx.output(t.input);
  const s = t.spec;
  const shape: MlpShape = { inWidth: t.input.width, layers: [...s.layers, outWidth], activation: s.activation, layerNorm: s.layer_norm, activateLast: false, dropout: s.dropout };
  if (t.strategy === "shared") return mlpForward(g, input, mlpParams(g, seed, shape), shape);
  const group: ExpertGroup = { name: "domain", input, params: mlpParams(g, seed, shape, D), shape, copies: D, outWidth };
  return byDomain(ctx, group, t.strategy);
}
