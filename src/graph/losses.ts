import type { Graph } from "./ops.js";
import type { Tensor } from "./tensor.js";

const EPS = 1e-9;

/** Numerically stable binary cross-entropy from logits, per row: max(z, 0) − z·y + log(1 + e^−|z|). */
export function binaryCrossEntropy(g: Graph, logit: Tensor, label: Tensor): Tensor {
  return g.add(g.sub(g.max(logit, g.scalar(0)), g.mul(logit, label)), g.softplus(g.neg(g.abs(logit))));
}

/**
 * Mod-Squad mutual information between router assignment and domain, as a loss (its negative):
 * M[d,e] = Σ_{rows of d} p_e / B, P(d) = Σ_e M, P(e) = Σ_d M, loss = −Σ M · log(M / (P(d)·P(e))).
 */
export function mutualInformationLoss(g: Graph, probabilities: Tensor, domain: Tensor, domains: number): Tensor {
  const onehot = g.cast(g.oneHotMask(domain, domains), "float32"); // [N, D]
  const n = g.cast(g.gather(g.shapeOf(domain), g.ints([0], [])), "float32");
  const M = g.div(g.matmul(g.transpose(onehot, [1, 0]), probabilities), n); // [D, E]
  const pd = g.reduceSum(M, [1], true);
  const pe = g.reduceSum(M, [0], true);
  const ratio = g.div(g.add(M, g.scalar(EPS)), g.add(g.mul(pd, pe), g.scalar(EPS)));
  return g.neg(g.reduceSum(g.mul(M, g.log(ratio)), [0, 1]));
}

/**
 * Switch-style load balance E · Σ_e f_e · P_e: f_e the share of (row, slot) assignments that went to e
 * (no gradient flows through the choice), P_e the mean router probability of e.
 */
export function loadBalanceLoss(g: Graph, probabilities: Tensor, selected: Tensor | undefined, experts: number): Tensor {
  const meanP = g.reduceMean(probabilities, [0]);
  let f = meanP;
  if (selected) {
    const counts = g.reduceSum(g.cast(g.oneHotMask(selected, experts), "float32"), [0, 1]);
    f = g.div(counts, g.reduceSum(counts, [0], true));
  }
  return g.mul(g.reduceSum(g.mul(f, meanP), [0]), g.scalar(experts));
}
