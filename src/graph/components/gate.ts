import type { PlannedGate } from "../../plan/plan.js";
import { gateSlots } from "../../plan/resolve.js";
import { dispatch, selectDomain } from "../dispatch.js";
import { uniform } from "../init.js";
import { expertSlice, mlpForward } from "../layers.js";
import type { Tensor } from "../tensor.js";
import type { BuildContext } from "./context.js";
import { EMBEDDING_INIT_BOUND } from "../names.js";

/**
 * A gate: router logits (one router, or one per domain), softmax or top-k weights over its choices, the
 * chosen experts run by the plan's dispatch mode, plus the always-on experts.
 */
export function gateOutput(ctx: BuildContext, gate: PlannedGate): Tensor {
  const { g, D } = ctx;
  const spec = gate.spec;
  const groups = gate.pools.map((p) => ctx.group(p));
  const choices = gate.choices;
  const gin = gateInput(ctx, gate);
  const logits = g.scope("router", () => {
    const copies = spec.per === "domain" ? D : 1;
    const all = linear(ctx, gin, copies * choices, "weight", "bias");
    const selected = copies === 1 ? all : selectDomain(g, g.reshape(all, [-1, D, choices], "N"), ctx.domainOneHot);
    // Exploration noise on the router logits, in training only.
    return g.training && spec.noise > 0 ? g.add(selected, g.mul(g.randomNormalLike(selected), g.scalar(spec.noise))) : selected;
  });

  let localIdx: Tensor;
  let weights: Tensor;
  const probabilities = g.softmax(logits);
  if (spec.type === "topk") {
    const k = spec.k!;
    if (spec.topk_order === "before_softmax") {
      const [v, i] = g.topK(logits, k);
      weights = g.softmax(v);
      localIdx = i;
    } else {
      const [v, i] = g.topK(probabilities, k);
      weights = spec.renormalize ? g.div(v, g.reduceSum(v, [1], true)) : v;
      localIdx = i;
    }
  } else {
    weights = probabilities;
    localIdx = g.expand(g.ints(Array.from({ length: choices }, (_, j) => j), [1, choices]), g.shapeOf(logits), ["N", choices]);
  }
  const globalIdx = gate.identity ? localIdx : g.gatherElements(g.gather(g.ints(gateSlots(gate, D).flat(), [D, choices]), ctx.features.domain), localIdx, 1);

  ctx.gateOutputs.set(gate.name, { probabilities, ...(spec.type === "topk" ? { selected: localIdx } : {}), choices });
  if (ctx.options.debugOutputs) {
    g.output(probabilities, `debug.${gate.name}.probabilities`, `router probabilities over the ${choices} choices of gate ${gate.name}`);
    if (spec.type === "topk") g.output(localIdx, `debug.${gate.name}.selected`, `experts selected by gate ${gate.name} (choice index)`);
  }

  const denseWeights = spec.type !== "topk" && gate.identity ? probabilities : undefined;
  let mixed = dispatch(g, groups, globalIdx, weights, gate.dispatch, denseWeights, (group) => ctx.allRows(group));
  if (gate.alwaysOn.length) mixed = g.add(mixed, g.scope("always_on", () => alwaysOn(ctx, gate, gin)));
  return mixed;
}

/** The router's input: the gate's input component and/or a learned embedding of the domain. */
function gateInput(ctx: BuildContext, gate: PlannedGate): Tensor {
  const { g, seed, D } = ctx;
  const parts: Tensor[] = [];
  if (gate.spec.inputs.includes("features")) parts.push(ctx.output(gate.input));
  if (gate.spec.inputs.includes("domain")) {
    parts.push(g.scope("domain_embedding", () => {
      const name = g.fresh("table");
      return g.gather(g.paramNamed(name, uniform(seed, name, [D, gate.spec.domain_dim], EMBEDDING_INIT_BOUND)), ctx.features.domain);
    }));
  }
  return g.concat(parts, 1);
}

/** Always-on experts, combined by their mean or by a per-domain softmax gate. */
function alwaysOn(ctx: BuildContext, gate: PlannedGate, gin: Tensor): Tensor {
  const { g, D } = ctx;
  const groups = gate.alwaysOn.map((p) => ctx.group(p));
  const S = groups.reduce((n, gr) => n + gr.copies, 0);
  if (!gate.alwaysOnStacked) {
    // A few experts run one by one: plain 2-D MatMuls, no [S, N, ·] transposes forward or backward.
    const outs = groups.flatMap((gr) => Array.from({ length: gr.copies }, (_, c) =>
      g.scope(`${gr.name}.expert${c}`, () => mlpForward(g, gr.input, expertSlice(g, gr.params, c), gr.shape))));
    const sum = outs.reduce((a, b) => g.add(a, b));
    return S === 1 ? sum : g.mul(sum, g.scalar(1 / S));
  }
  const all = g.concat(groups.map((gr) => ctx.allRows(gr)), 0); // [S, N, out]
  if (gate.spec.always_on_combine === "mean") return g.reduceMean(all, [0]);
  const p = g.softmax(selectDomain(g, g.reshape(linear(ctx, gin, D * S, "gate_weight", "gate_bias"), [-1, D, S], "N"), ctx.domainOneHot));
  return g.reshape(g.matmul(g.unsqueeze(p, [1]), g.transpose(all, [1, 0, 2])), [-1, groups[0].outWidth], "N");
}

/** x W + b with a router's initialisation, U(±1/√fan-in). */
function linear(ctx: BuildContext, x: Tensor, out: number, weight: string, bias: string): Tensor {
  const { g, seed } = ctx;
  const inW = x.shape[1] as number;
  const wName = g.fresh(weight);
  const bName = g.fresh(bias);
  const W = g.paramNamed(wName, uniform(seed, wName, [inW, out], 1 / Math.sqrt(inW)));
  const b = g.paramNamed(bName, uniform(seed, bName, [out], 1 / Math.sqrt(inW)));
  return g.add(g.matmul(x, W), b);
}
