import { costReport, mlpCost } from "../check/cost.js";
import { componentWidths } from "../check/widths.js";
import { FEATURES, type ExpertPoolSpec, type GateSpec, type Spec, type StarSpec, type TowerSpec } from "../spec/types.js";
import { dispatch, runAllRows, selectDomain, type DispatchMode, type ExpertGroup } from "./dispatch.js";
import { buildFeatures, type FeatureGraph } from "./features.js";
import { filled, uniform } from "./init.js";
import { expertSlice, mlpForward, mlpParams, stackedMlpForward, type LayerParams, type MlpShape } from "./layers.js";
import type { ModelData } from "./model-data.js";
import { Graph } from "./ops.js";
import type { Tensor } from "./tensor.js";

/** Up to this many always-on experts run one by one rather than stacked. */
const SEPARATE_EXPERTS = 4;

export interface BuildOptions {
  opset: number;
  /** Overrides every top-k gate's `dispatch`. */
  dispatch?: DispatchMode;
  /** Adds router probabilities and selected experts per row as outputs. */
  debugOutputs?: boolean;
  /** Build the training-time forward: parameters and batch rows as inputs, batch statistics, noise. */
  training?: boolean;
}

/** What the losses need to know about a gate. */
export interface GateOutputs {
  /** Full router probabilities [N, choices]. */
  probabilities: Tensor;
  /** Selected choices [N, k] for top-k gates. */
  selected?: Tensor;
  choices: number;
}

export interface ModelGraph {
  graph: Graph;
  features: FeatureGraph;
  logit: Tensor;
  probability: Tensor;
  gates: Map<string, GateOutputs>;
  /** Non-trainable state a training step updates (STAR running statistics): state name → new value. */
  stateUpdates: Map<string, Tensor>;
}

/**
 * Builds the inference graph of a canonical spec: features → components in dataflow order → tower logit.
 * Each component's output is built once and reused by every reader.
 */
export function buildModel(spec: Spec, data: ModelData, options: BuildOptions): ModelGraph {
  const g = new Graph(options.opset, options.training ?? false);
  const gateOutputs = new Map<string, GateOutputs>();
  const stateUpdates = new Map<string, Tensor>();
  const seed = spec.train.seed;
  const D = spec.domain.values.length;
  const widths = componentWidths(spec);
  const features = buildFeatures(g, spec, data, seed);
  const domainOneHot = g.scope("domain", () => g.cast(g.oneHotMask(features.domain, D), "float32"));

  const pools = new Map(spec.experts.map((p) => [p.name, p]));
  const gates = new Map(spec.gates.map((x) => [x.name, x]));
  const stars = new Map(spec.stars.map((x) => [x.name, x]));
  const outputs = new Map<string, Tensor>([[FEATURES, features.x]]);
  const groups = new Map<string, ExpertGroup>();
  let auxLogit: Tensor | undefined;

  const copiesOf = (p: ExpertPoolSpec) => (p.scope === "per_domain" ? p.count * D : p.count);
  const expertShape = (p: ExpertPoolSpec): MlpShape => ({ inWidth: widths.get(p.input)!, layers: p.layers, activation: p.activation, layerNorm: p.layer_norm, activateLast: true, dropout: p.dropout });

  /**
   * Pools some reader runs on every row anyway (a dense gate, a pool read as an input, stacked always-on
   * experts): their [copies, N, out] result is built once, and other gates mixing them select from it
   * instead of running the experts again (PLE's per-domain and shared-path gates read the same experts).
   */
  const denseReaders = new Set<string>();
  for (const gate of spec.gates) {
    const identityGate = gate.pools.every((n) => pools.get(n)!.scope !== "per_domain" || gate.per === "all");
    if ((gate.type !== "topk" && identityGate) || (gate.type === "topk" && (options.dispatch ?? gate.dispatch) === "dense")) gate.pools.forEach((n) => denseReaders.add(n));
    const S = gate.always_on.reduce((n, p) => n + copiesOf(pools.get(p)!), 0);
    if (gate.always_on_combine === "gate" || S > SEPARATE_EXPERTS) gate.always_on.forEach((n) => denseReaders.add(n));
  }
  for (const c of [...spec.experts, ...spec.gates, ...spec.stars, ...spec.towers]) if (pools.has(c.input)) denseReaders.add(c.input);
  const allRowsCache = new Map<string, Tensor>();
  const allRows = (group: ExpertGroup): Tensor => {
    let t = allRowsCache.get(group.name);
    if (!t) allRowsCache.set(group.name, (t = g.atRoot(() => g.scope(`pool.${group.name}`, () => runAllRows(g, group)))));
    return t;
  };

  /** A pool's stacked parameters, created once however many gates mix it. */
  const groupOf = (p: ExpertPoolSpec): ExpertGroup => {
    const hit = groups.get(p.name);
    if (hit) return hit;
    const input = outputOf(p.input);
    const shape = expertShape(p);
    const copies = copiesOf(p);
    const params = g.atRoot(() => g.scope(`pool.${p.name}`, () => mlpParams(g, seed, shape, copies)));
    const group = { name: p.name, input, params, shape, copies, outWidth: p.layers[p.layers.length - 1] };
    groups.set(p.name, group);
    return group;
  };

  const outputOf = (name: string): Tensor => {
    const hit = outputs.get(name);
    if (hit) return hit;
    let out: Tensor;
    const pool = pools.get(name);
    const gate = gates.get(name);
    const star = stars.get(name);
    // Components are named from the root, whichever reader asked for them first.
    if (pool) out = g.atRoot(() => g.scope(`pool.${name}`, () => poolMean(pool)));
    else if (gate) out = g.atRoot(() => g.scope(`gate.${name}`, () => gateOutput(gate)));
    else if (star) out = g.atRoot(() => g.scope(`star.${name}`, () => starOutput(star)));
    else throw new Error(`unknown component ${name}`);
    outputs.set(name, out);
    return out;
  };

  /** A pool read directly as an input: the mean of its experts (the row's own copies for per_domain). */
  const poolMean = (p: ExpertPoolSpec): Tensor => {
    const group = groupOf(p);
    const all = allRows(group); // [C, N, out]
    if (p.scope !== "per_domain") return g.reduceMean(all, [0]);
    const perDomain = g.reduceMean(g.reshape(all, [D, p.count, -1, group.outWidth], "N"), [1]); // [D, N, out]
    return selectDomain(g, g.transpose(perDomain, [1, 0, 2]), domainOneHot);
  };

  const gateOutput = (gate: GateSpec): Tensor => {
    const gatePools = gate.pools.map((n) => pools.get(n)!);
    const gGroups = gatePools.map(groupOf);
    // Local choices: a per-domain gate sees each per_domain pool's `count` own slots; a router sees all copies.
    const local: number[][] = Array.from({ length: D }, () => []);
    let offset = 0;
    for (const p of gatePools) {
      const slots = p.scope === "per_domain" && gate.per === "domain" ? p.count : copiesOf(p);
      for (let d = 0; d < D; d++) {
        for (let j = 0; j < slots; j++) local[d].push(offset + (p.scope === "per_domain" && gate.per === "domain" ? d * p.count + j : j));
      }
      offset += copiesOf(p);
    }
    const choices = local[0].length;
    const identity = local.every((row) => row.every((v, j) => v === j)) && choices === offset;

    const gin = gateInput(gate);
    const inW = gin.shape[1] as number;
    const logits = g.scope("router", () => {
      const copies = gate.per === "domain" ? D : 1;
      const wName = g.fresh("weight");
      const bName = g.fresh("bias");
      const W = g.paramNamed(wName, uniform(seed, wName, [inW, copies * choices], 1 / Math.sqrt(inW)));
      const b = g.paramNamed(bName, uniform(seed, bName, [copies * choices], 1 / Math.sqrt(inW)));
      const all = g.add(g.matmul(gin, W), b);
      const selected = copies === 1 ? all : selectDomain(g, g.reshape(all, [-1, D, choices], "N"), domainOneHot);
      // Exploration noise on the router logits, in training only.
      return g.training && gate.noise > 0 ? g.add(selected, g.mul(g.randomNormalLike(selected), g.scalar(gate.noise))) : selected;
    });

    let localIdx: Tensor;
    let weights: Tensor;
    let probabilities: Tensor;
    if (gate.type === "topk") {
      const k = gate.k!;
      if (gate.topk_order === "before_softmax") {
        probabilities = g.softmax(logits);
        const [v, i] = g.topK(logits, k);
        weights = g.softmax(v);
        localIdx = i;
      } else {
        probabilities = g.softmax(logits);
        const [v, i] = g.topK(probabilities, k);
        weights = gate.renormalize ? g.div(v, g.reduceSum(v, [1], true)) : v;
        localIdx = i;
      }
    } else {
      probabilities = g.softmax(logits);
      weights = probabilities;
      localIdx = g.expand(g.ints(Array.from({ length: choices }, (_, j) => j), [1, choices]), g.shapeOf(logits), ["N", choices]);
    }
    const globalIdx = identity ? localIdx : g.gatherElements(g.gather(g.ints(local.flat(), [D, choices]), features.domain), localIdx, 1);

    gateOutputs.set(gate.name, { probabilities, ...(gate.type === "topk" ? { selected: localIdx } : {}), choices });
    if (options.debugOutputs) {
      g.output(probabilities, `debug.${gate.name}.probabilities`, `router probabilities over the ${choices} choices of gate ${gate.name}`);
      if (gate.type === "topk") g.output(localIdx, `debug.${gate.name}.selected`, `experts selected by gate ${gate.name} (choice index)`);
    }

    const computedAnyway = gatePools.every((p) => denseReaders.has(p.name));
    const mode: DispatchMode = gate.type === "topk" ? options.dispatch ?? gate.dispatch : identity || computedAnyway ? "dense" : "sparse";
    const denseWeights = gate.type !== "topk" && identity ? probabilities : undefined;
    let mixed = dispatch(g, gGroups, globalIdx, weights, mode, denseWeights, allRows);
    if (gate.always_on.length) mixed = g.add(mixed, g.scope("always_on", () => alwaysOn(gate, gin)));
    return mixed;
  };

  const gateInput = (gate: GateSpec): Tensor => {
    const parts: Tensor[] = [];
    if (gate.inputs.includes("features")) parts.push(outputOf(gate.input));
    if (gate.inputs.includes("domain")) {
      parts.push(g.scope("domain_embedding", () => {
        const name = g.fresh("table");
        return g.gather(g.paramNamed(name, uniform(seed, name, [D, gate.domain_dim], 0.05)), features.domain);
      }));
    }
    return g.concat(parts, 1);
  };

  const alwaysOn = (gate: GateSpec, gin: Tensor): Tensor => {
    const aGroups = gate.always_on.map((n) => groupOf(pools.get(n)!));
    const S = aGroups.reduce((n, gr) => n + gr.copies, 0);
    if (gate.always_on_combine === "mean" && S <= SEPARATE_EXPERTS) {
      // A few experts run one by one: plain 2-D MatMuls, no [S, N, ·] transposes forward or backward.
      const outs = aGroups.flatMap((gr) => Array.from({ length: gr.copies }, (_, c) =>
        g.scope(`${gr.name}.expert${c}`, () => mlpForward(g, gr.input, expertSlice(g, gr.params, c), gr.shape))));
      const sum = outs.reduce((a, b) => g.add(a, b));
      return S === 1 ? sum : g.mul(sum, g.scalar(1 / S));
    }
    const all = g.concat(aGroups.map(allRows), 0); // [S, N, out]
    if (gate.always_on_combine === "mean") return g.reduceMean(all, [0]);
    const inW = gin.shape[1] as number;
    const wName = g.fresh("gate_weight");
    const bName = g.fresh("gate_bias");
    const W = g.paramNamed(wName, uniform(seed, wName, [inW, D * S], 1 / Math.sqrt(inW)));
    const b = g.paramNamed(bName, uniform(seed, bName, [D * S], 1 / Math.sqrt(inW)));
    const p = g.softmax(selectDomain(g, g.reshape(g.add(g.matmul(gin, W), b), [-1, D, S], "N"), domainOneHot));
    const out = aGroups[0].outWidth;
    return g.reshape(g.matmul(g.unsqueeze(p, [1]), g.transpose(all, [1, 0, 2])), [-1, out], "N");
  };

  const starOutput = (s: StarSpec): Tensor => {
    let x = outputOf(s.input);
    const inW = widths.get(s.input)!;
    if (s.partitioned_norm) x = g.scope("partitioned_norm", () => partitionedNorm(x, inW));
    const shape: MlpShape = { inWidth: inW, layers: s.layers, activation: s.activation, layerNorm: s.layer_norm, activateLast: true, dropout: s.dropout };
    // Per layer W_d = W_shared ⊙ W_domain, b_d = b_shared + b_domain; the domain factors start at 1 and 0.
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
        const emb = g.gather(g.paramNamed(name, uniform(seed, name, [D, s.aux_dim], 0.05)), features.domain);
        const auxShape: MlpShape = { inWidth: s.aux_dim, layers: [...s.aux_layers, 1], activation: s.activation, layerNorm: false, activateLast: false, dropout: 0 };
        return mlpForward(g, emb, mlpParams(g, seed, auxShape), auxShape);
      });
      auxLogit = auxLogit ? g.add(auxLogit, aux) : aux;
    }
    const group: ExpertGroup = { name: "domain_fcn", input: x, params: combined, shape, copies: D, outWidth: s.layers[s.layers.length - 1] };
    return byDomain(group);
  };

  /** STAR's partitioned normalisation: shared statistics, scale γ·γ_d and shift β + β_d per domain. */
  const partitionedNorm = (x: Tensor, w: number): Tensor => {
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
      stateUpdates.set(runningMean.name, step(runningMean, mean));
      stateUpdates.set(runningVar.name, step(runningVar, variance));
    }
    const gamma = g.param("scale", filled([w], 1));
    const beta = g.param("shift", filled([w], 0));
    const gammaD = g.gather(g.param("domain_scale", filled([D, w], 1)), features.domain);
    const betaD = g.gather(g.param("domain_shift", filled([D, w], 0)), features.domain);
    const normed = g.div(g.sub(x, mean), g.sqrt(g.add(variance, g.scalar(1e-5))));
    return g.add(g.mul(normed, g.mul(gamma, gammaD)), g.add(beta, betaD));
  };

  /**
   * Per-domain copies (towers, STAR layers): each row needs only its own domain's copy. Running all D
   * copies on every row and selecting costs (D − 1)× the copy's work but few nodes, which wins while
   * that extra work is small next to the model; otherwise rows are dispatched to their domain's copy.
   */
  function byDomain(group: ExpertGroup): Tensor {
    const copyMacs = mlpCost(group.shape.inWidth, group.shape.layers).macs;
    const extra = (D - 1) * copyMacs;
    if (extra <= 0.1 * modelMacs) {
      const all = stackedMlpForward(g, group.input, group.params, group.shape, D); // [D, N, out]
      return selectDomain(g, g.transpose(all, [1, 0, 2]), domainOneHot);
    }
    return dispatch(g, [group], g.unsqueeze(features.domain, [1]), undefined, "sparse");
  }
  const modelMacs = costReport(spec).domains[0]?.activatedMacs ?? 0;

  const tower = spec.towers[0];
  const logitColumn = g.scope(`tower.${tower.name}`, () => towerLogit(tower));
  function towerLogit(t: TowerSpec): Tensor {
    const input = outputOf(t.input);
    const shape: MlpShape = { inWidth: widths.get(t.input)!, layers: [...t.layers, 1], activation: t.activation, layerNorm: t.layer_norm, activateLast: false, dropout: t.dropout };
    if (t.per === "shared") return mlpForward(g, input, mlpParams(g, seed, shape), shape);
    const group: ExpertGroup = { name: "domain", input, params: mlpParams(g, seed, shape, D), shape, copies: D, outWidth: 1 };
    return byDomain(group);
  }
  let logit2d = logitColumn;
  if (auxLogit) logit2d = g.add(logit2d, auxLogit);
  const logitVec = g.reshape(logit2d, [-1], "N");
  // A training step reports its own outputs (losses, gradients); only inference names these two.
  const logit = g.training ? logitVec : g.output(logitVec, "logit", "log-odds of a positive label, per row");
  const probability = g.training ? logitVec : g.output(g.sigmoid(logitVec), "probability", "probability of a positive label, per row");
  return { graph: g, features, logit, probability, gates: gateOutputs, stateUpdates };
}
