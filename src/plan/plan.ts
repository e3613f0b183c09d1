import type { ExpertPoolSpec, GateSpec, Spec, StarSpec, TowerSpec } from "../spec/types.js";

/**
 * The resolved model: every component with its inputs as object references, widths, copies and choices,
 * each gate's slot map and dispatch mode, which pools some reader runs on every row, the embedding tables,
 * and how per-domain copies run. The graph builder, the cost model, `mdr inspect`, the manifest and the
 * runtime read this; none of them looks a component up by name in the spec again.
 */
export interface ModelPlan {
  spec: Spec;
  /** Number of domains. */
  domains: number;
  features: PlannedFeatures;
  /** Every pool, gate and STAR layer, in spec order (unused ones included). */
  components: PlannedComponent[];
  /** The ones the tower reads, in the order the graph builds them: a pool where its parameters are made, inputs first. */
  order: PlannedComponent[];
  tower: PlannedTower;
  tables: PlannedTable[];
}

export type DispatchMode = "sparse" | "dense";

/**
 * How a component with one copy per domain runs: every copy on every row, then each row's own copy
 * selected ("all-rows": few nodes, (D − 1)× extra work), or each row dispatched to its domain's copy.
 */
export type PerDomainStrategy = "all-rows" | "dispatch";

export interface PlannedFeatures {
  kind: "features";
  name: "features";
  width: number;
}

interface ComponentBase {
  name: string;
  /** Output width. */
  width: number;
  input: Planned;
}

export interface PlannedPool extends ComponentBase {
  kind: "pool";
  spec: ExpertPoolSpec;
  /** Experts in the pool (× domains for per_domain). */
  copies: number;
  /** Some reader runs every expert on every row (a dense gate, an input, stacked always-on experts). */
  allRows: boolean;
}

export interface PlannedGate extends ComponentBase {
  kind: "gate";
  spec: GateSpec;
  pools: PlannedPool[];
  alwaysOn: PlannedPool[];
  /** Choices the gate's softmax ranges over. */
  choices: number;
  /** Choices are the experts themselves, in order, for every domain (else see `gateSlots`). */
  identity: boolean;
  dispatch: DispatchMode;
  /** Always-on experts: stacked and mean-combined, or gated, rather than run one by one. */
  alwaysOnStacked: boolean;
}

export interface PlannedStar extends ComponentBase {
  kind: "star";
  spec: StarSpec;
  strategy: PerDomainStrategy;
}

export interface PlannedTower extends ComponentBase {
  kind: "tower";
  spec: TowerSpec;
  strategy: PerDomainStrategy | "shared";
}

export type PlannedComponent = PlannedPool | PlannedGate | PlannedStar;
export type Planned = PlannedFeatures | PlannedComponent | PlannedTower;

export interface PlannedTable {
  /** The feature that owns the table. */
  owner: string;
  /** Every feature that looks rows up in it (the owner first). */
  features: string[];
  /** Rows including the out-of-vocabulary row 0; undefined for a vocabulary not yet learned from data. */
  rows?: number;
  dim: number;
}
