import type { PlannedStar } from "../../plan/plan.js";
import type { ExpertGroup } from "../dispatch.js";
import { filled, uniform } from "../init.js";
import { mlpForward, mlpParams, type LayerParams, type MlpShape } from "../layers.js";
import type { Tensor } from "../tensor.js";
import type { BuildContext } from "./context.js";
import { byDomain } from "./per-domain.js";
import { EMBEDDING_INIT_BOUND } from "../names.js";

/**
 * A STAR layer stack: per layer W_d = W_shared ⊙ W_domain and b_d = b_shared + b_domain (the domain factors
 * start at 1 and 0), after an optional partitioned normalisation; an auxiliary network on the domain adds
 * its logit to the tower's.
 */
export function starOutput(ctx: BuildContext, star: PlannedStar): Tensor {
  const { g, seed, D } = ctx;
  const s = star.spec;
  let x = ctx.output(star.input);
  const inW = star.input.width;
  if (s.partitioned_norm) x = g.scope("partitioned_norm", () => partitionedNorm(ctx, x, inW));
  const shape: MlpShape = { inWidth: inW, layers: s.layers, activation: s.activation, layerNorm: s.layer_norm, activateLast: true, dropout: s.dropout };
  const shared = g.scope("shared", () => mlpParams(g, seed, shape));
  const domainParams = g.scope("domain", () => {
    let w = inW;
    return s.layers.map((width, i) => g.scope(`dense${i + 1}`, () => {
      const p = { weight: g.param("weight", filled([D, w, width], 1)), bias: g.param("bias", filled([D, width], 0)) };
      w = width;
      return p;
    }));
  });
  const combined: LayerParams[] = shared.map((p, i) => ({
    weight: g.mul(g.unsqueeze(p.weight, [0]), domainParams[i].weight),
    bias: g.add(g.unsqueeze(p.bias, [0]), domainParams[i].bias),
    ...(p.lnScale && p.lnBias ? { lnScale: g.unsqueeze(p.lnScale, [0]), lnBias: g.unsqueeze(p.lnBias, [0]) } : {}),
  }));
  if (s.aux_layers.length) {
    const aux = g.scope("aux", () => {
      const name = g.fresh("domain_table");
      const emb = g.gather(g.paramNamed(name, uniform(seed, name, [D, s.aux_dim], EMBEDDING_INIT_BOUND)), ctx.features.domain);
      const auxShape: MlpShape = { inWidth: s.aux_dim, layers: [...s.aux_layers, 1], activation: s.activation, layerNorm: false, activateLast: false, dropout: 0 };
      return mlpForward(g, emb, mlpParams(g, seed, auxShape), auxShape);
    });
    ctx.auxLogit = ctx.auxLogit ? g.add(ctx.auxLogit, aux) : aux;
  }
  const group: ExpertGroup = { name: "domain_fcn", input: x, params: combined, shape, copies: D, outWidth: star.width };
  return byDomain(ctx, group, star.strategy);
}

/** Partitioned normalisation: shared statistics, scale γ·γ_d and shift β + β_d per domain. */
function partitionedNorm(ctx: BuildContext, x: Tensor, w: number): Tensor {
  const { g, D } = ctx;
  const runningMean = g.state("running_mean", filled([w], 0));
  const runningVar = g.state("running_var", filled([w], 1));
  let mean = runningMean;
  let variance = runningVar;
  if (g.training) {
    // Batch statistics in training; the running ones move 10% of the way (PyTorch's momentum 0.1).
    mean = g.reduceMean(x, [0]);
    const centered = g.sub(x, mean);
    variance = g.reduceMean(g.mul(centered, centered), [0]);
    const step = (run: Tensor, batch: Tensor) => g.add(g.mul(run, g.scalar(0.9)), g.mul(batch, g.scalar(0.1)));
    ctx.stateUpdates.set(runningMean.name, step(runningMean, mean));
    ctx.stateUpdates.set(runningVar.name, step(runningVar, variance));
  }
  const gamma = g.param("scale", filled([w], 1));
  const beta = g.param("shift", filled([w], 0));
  const gammaD = g.gather(g.param("domain_scale", filled([D, w], 1)), ctx.features.domain);
  const betaD = g.gather(g.param("domain_shift", filled([D, w], 0)), ctx.features.domain);
  const normed = g.div(g.sub(x, mean), g.sqrt(g.add(variance, g.scalar(1e-5))));
  return g.add(g.mul(normed, g.mul(gamma, gammaD)), g.add(beta, betaD));
}
