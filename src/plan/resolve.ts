import { componentWidths } from "../check/widths.js";
import { mlpCost } from "./cost.js";
import { FEATURES, type CategoricalFeature, type MultiCategoricalFeature, type Spec } from "../spec/types.js";
import type { ModelData } from "./model-data.js";
import type {
  DispatchMode, ModelPlan, Planned, PlannedComponent, PlannedFeatures, PlannedGate, PlannedPool, PlannedStar, PlannedTable, PlannedTower,
  PerDomainStrategy,
} from "./plan.js";

/** Up to this many always-on experts (mean-combined) run one by one rather than stacked. */
export const SEPARATE_EXPERTS = 4;

/**
 * What dispatching one float of a row to a per-domain copy costs, in multiply-adds. Measured on 2 cores
 * at batch 4,096 (train step and inference): a tower [64] over a 128-wide input with 3 domains (16.5k
 * extra multiply-adds when every copy runs) is 5–6% faster dispatched; a tower [16] (4.1k) runs as fast
 * either way; MovieLens's towers [32] over 32 with 6 domains (5.3k) are 10–29% faster dispatched.
 */
const DISPATCH_MACS_PER_FLOAT = 48;

export interface ResolveOptions {
  /** Overrides every top-k gate's `dispatch`. */
  dispatch?: DispatchMode;
  /** Learned vocabularies, for the rows of their tables. */
  data?: ModelData;
  /** The tower's output width: 1 (a logit), or a retrieval tower's embedding width. */
  towerWidth?: number;
}

/** A checked spec → its model plan. */
export function resolve(spec: Spec, options: ResolveOptions = {}): ModelPlan {
  const D = spec.domain.values.length;
  const widths = componentWidths(spec);
  const features: PlannedFeatures = { kind: "features", name: FEATURES, width: widths.get(FEATURES)! };
  const byName = new Map<string, Planned>([[FEATURES, features]]);
  const ref = (name: string): Planned => byName.get(name)!;

  // Objects first (inputs filled in below, once every name has its object).
  const pools = spec.experts.map((p): PlannedPool => ({
    kind: "pool", name: p.name, spec: p, width: widths.get(p.name)!, input: features,
    copies: p.scope === "per_domain" ? p.count * D : p.count, allRows: false,
  }));
  pools.forEach((p) => byName.set(p.name, p));
  const gates = spec.gates.map((g): PlannedGate => {
    const gp = g.pools.map((n) => byName.get(n) as PlannedPool);
    const own = (p: PlannedPool) => p.spec.scope === "per_domain" && g.per === "domain";
    const choices = gp.reduce((n, p) => n + (own(p) ? p.spec.count : p.copies), 0);
    // A per-domain gate over per_domain pools sees only each domain's own copies: choice j is not expert j.
    const identity = D === 1 || !gp.some(own);
    const alwaysOn = g.always_on.map((n) => byName.get(n) as PlannedPool);
    const stackedCount = alwaysOn.reduce((n, p) => n + p.copies, 0);
    return {
      kind: "gate", name: g.name, spec: g, width: widths.get(g.name)!, input: features, pools: gp, alwaysOn, choices, identity,
      dispatch: "dense", alwaysOnStacked: g.always_on_combine === "gate" || stackedCount > SEPARATE_EXPERTS,
    };
  });
  gates.forEach((g) => byName.set(g.name, g));
  const stars = spec.stars.map((s): PlannedStar => ({ kind: "star", name: s.name, spec: s, width: widths.get(s.name)!, input: features, strategy: "all-rows" }));
  stars.forEach((s) => byName.set(s.name, s));
  const t = spec.towers[0];
  const tower: PlannedTower = { kind: "tower", name: t.name, spec: t, width: options.towerWidth ?? 1, input: features, strategy: t.per === "shared" ? "shared" : "all-rows" };
  for (const c of [...pools, ...gates, ...stars, tower]) c.input = ref(c.spec.input);

  // Pools some reader runs on every row: their [copies, N, out] result is built once and shared.
  const readAllRows = (p: PlannedPool) => (p.allRows = true);
  for (const g of gates) {
    const perDomainSlots = g.pools.some((p) => p.spec.scope === "per_domain" && g.spec.per === "domain");
    if ((g.spec.type !== "topk" && !perDomainSlots) || (g.spec.type === "topk" && (options.dispatch ?? g.spec.dispatch) === "dense")) g.pools.forEach(readAllRows);
    if (g.alwaysOnStacked) g.alwaysOn.forEach(readAllRows);
  }
  for (const c of [...pools, ...gates, ...stars, tower]) if (c.input.kind === "pool") readAllRows(c.input);
  for (const g of gates) {
    g.dispatch = g.spec.type === "topk" ? options.dispatch ?? g.spec.dispatch : g.identity || g.pools.every((p) => p.allRows) ? "dense" : "sparse";
  }
  const plan: ModelPlan = { spec, domains: D, features, components: [...pools, ...gates, ...stars], order: buildOrder(tower), tower, tables: tablesOf(spec, options.data) };

  // Dispatching rows to their domain's copy moves each row's input and output through gathers, splits
  // and scatters, forward and backward; running every copy on every row costs (D − 1) extra copies. The
  // cheaper one wins.
  const strategy = (inWidth: number, layers: number[]): PerDomainStrategy =>
    ((D - 1) * mlpCost(inWidth, layers).macs <= DISPATCH_MACS_PER_FLOAT * (inWidth + (layers.at(-1) ?? inWidth)) ? "all-rows" : "dispatch");
  for (const s of stars) s.strategy = strategy(s.input.width, s.spec.layers);
  if (tower.strategy !== "shared") tower.strategy = strategy(tower.input.width, [...t.layers, tower.width]);
  return plan;
}

/**
 * Per domain, the global expert (over the concatenated pools' copies) behind each choice: a per-domain
 * gate sees each per_domain pool's `count` own experts; a router (per: all) sees every copy.
 */
export function gateSlots(gate: PlannedGate, D: number): number[][] {
  return slotMap(gate.spec.per, gate.pools, D);
}

function slotMap(per: "domain" | "all", pools: PlannedPool[], D: number): number[][] {
  const slots: number[][] = Array.from({ length: D }, () => []);
  let offset = 0;
  for (const p of pools) {
    const own = p.spec.scope === "per_domain" && per === "domain";
    const n = own ? p.spec.count : p.copies;
    for (let d = 0; d < D; d++) for (let j = 0; j < n; j++) slots[d].push(offset + (own ? d * p.spec.count + j : j));
    offset += p.copies;
  }
  return slots;
}

/**
 * The order in which the graph is built, from the tower's inputs down: a pool appears where its
 * parameters are made (after its own input), a gate after its pools and input, a STAR layer after its input.
 */
function buildOrder(tower: PlannedTower): PlannedComponent[] {
  const order: PlannedComponent[] = [];
  const seen = new Set<string>();
  const emit = (c: PlannedComponent) => {
    if (!seen.has(c.name)) {
      seen.add(c.name);
      order.push(c);
    }
  };
  const visit = (c: Planned): void => {
    if (c.kind === "features" || c.kind === "tower" || seen.has(c.name)) return;
    if (c.kind === "pool") {
      visit(c.input);
      emit(c);
    } else if (c.kind === "gate") {
      c.pools.forEach(visit);
      if (c.spec.inputs.includes("features")) visit(c.input);
      emit(c);
      c.alwaysOn.forEach(visit);
    } else {
      visit(c.input);
      emit(c);
    }
  };
  visit(tower.input);
  return order;
}

/** Embedding tables: one per owning feature (shared via `table:`), plus bucketized numerics. */
function tablesOf(spec: Spec, data?: ModelData): PlannedTable[] {
  const tables: PlannedTable[] = [];
  for (const f of spec.features) {
    if (f.kind === "numeric") {
      if (f.transform === "bucketize") tables.push({ owner: f.name, features: [f.name], rows: f.boundaries!.length + 1, dim: f.dim! });
      continue;
    }
    if (f.table !== undefined) continue;
    const sharers = spec.features.filter((x) => x.kind !== "numeric" && x.table === f.name).map((x) => x.name);
    const rows = data || f.range || f.hash_buckets !== undefined ? tableSize(f, data ?? { vocabularies: {}, numeric: {} }) : undefined;
    tables.push({ owner: f.name, features: [f.name, ...sharers], ...(rows !== undefined ? { rows } : {}), dim: f.dim });
  }
  return tables;
}

/** Rows of a categorical table, row 0 being out-of-vocabulary: a declared range, hash buckets, or the learned vocabulary. */
export function tableSize(f: CategoricalFeature | MultiCategoricalFeature, data: ModelData): number {
  if (f.range) return f.range[1] - f.range[0] + 2;
  if (f.hash_buckets !== undefined) return f.hash_buckets + 1;
  return (data.vocabularies[f.name]?.length ?? 0) + 1;
}
