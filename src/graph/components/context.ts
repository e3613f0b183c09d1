import type { DispatchMode, ModelPlan, Planned, PlannedPool } from "../../plan/plan.js";
import { runAllRows, type ExpertGroup } from "../dispatch.js";
import type { FeatureGraph } from "../features/common.js";
import { mlpParams, type MlpShape } from "../layers.js";
import type { Graph } from "../ops.js";
import type { Tensor } from "../tensor.js";

/** What the losses need to know about a gate. */
export interface GateOutputs {
  /** Full router probabilities [N, choices]. */
  probabilities: Tensor;
  /** Selected choices [N, k] for top-k gates. */
  selected?: Tensor;
  choices: number;
}

export interface BuildOptions {
  opset: number;
  /** Overrides every top-k gate's `dispatch`. */
  dispatch?: DispatchMode;
  /** Adds router probabilities and selected experts per row as outputs. */
  debugOutputs?: boolean;
  /** Build the training-time forward: parameters and batch rows as inputs, batch statistics, noise. */
  training?: boolean;
  /** Trained weights the inference graph will carry (embedding tables take them without drawing initial values). */
  weights?: Map<string, Float32Array>;
  /**
   * The embedding tables will be graph inputs fed at every run (training's evaluations), not initializers:
   * each field then gathers from its own table, as a Concat of fed tables would copy them at every run.
   */
  tablesFed?: boolean;
}

/** A component's output builder, by kind (pools: the mean of their experts, when read as an input). */
export type OutputBuilder = (ctx: BuildContext, c: Exclude<Planned, { kind: "features" | "tower" }>) => Tensor;

/**
 * What every component builder shares: the graph, the plan, the features, and memos so that each
 * component's parameters and output are built once, named from the root, whoever asks first.
 */
export class BuildContext {
  readonly seed: number;
  readonly D: number;
  readonly domainOneHot: Tensor;
  readonly gateOutputs = new Map<string, GateOutputs>();
  /** Non-trainable state a training step updates (STAR running statistics): state name → new value. */
  readonly stateUpdates = new Map<string, Tensor>();
  /** STAR auxiliary networks' logits, added to the tower's. */
  auxLogit: Tensor | undefined;
  private readonly outputs = new Map<string, Tensor>();
  private readonly groups = new Map<string, ExpertGroup>();
  private readonly allRowsCache = new Map<string, Tensor>();

  constructor(readonly g: Graph, readonly plan: ModelPlan, readonly features: FeatureGraph, readonly options: BuildOptions, private readonly build: OutputBuilder) {
    this.seed = plan.spec.train.seed;
    this.D = plan.domains;
    this.domainOneHot = g.scope("domain", () => g.cast(g.oneHotMask(features.domain, this.D), "float32"));
  }

  /** A component's output [N, width], built on first use. */
  output(c: Planned): Tensor {
    if (c.kind === "features") return this.features.x;
    const hit = this.outputs.get(c.name);
    if (hit) return hit;
    if (c.kind === "tower") throw new Error("a tower's output is the logit, not a component input");
    const out = this.g.atRoot(() => this.g.scope(`${c.kind}.${c.name}`, () => this.build(this, c)));
    this.outputs.set(c.name, out);
    return out;
  }

  /** A pool's stacked expert parameters, created once however many gates mix it. */
  group(p: PlannedPool): ExpertGroup {
    const hit = this.groups.get(p.name);
    if (hit) return hit;
    const input = this.output(p.input);
    const shape = expertShape(p);
    const params = this.g.atRoot(() => this.g.scope(`pool.${p.name}`, () => mlpParams(this.g, this.seed, shape, p.copies)));
    const group = { name: p.name, input, params, shape, copies: p.copies, outWidth: p.width };
    this.groups.set(p.name, group);
    return group;
  }

  /** Every expert of a pool on every row [copies, N, out], built once for all its readers. */
  allRows(group: ExpertGroup): Tensor {
    let t = this.allRowsCache.get(group.name);
    if (!t) this.allRowsCache.set(group.name, (t = this.g.atRoot(() => this.g.scope(`pool.${group.name}`, () => runAllRows(this.g, group)))));
    return t;
  }
}

function expertShape(p: PlannedPool): MlpShape {
  const s = p.spec;
  return { inWidth: p.input.width, layers: s.layers, activation: s.activation, layerNorm: s.layer_norm, activateLast: true, dropout: s.dropout };
}
