import { FEATURES, type ExpertPoolSpec, type GateSpec, type Spec } from "../spec/types.js";
import { componentWidths } from "./widths.js";

/** Parameters and multiply-adds of one dense layer stack. */
export interface Cost {
  params: number;
  macs: number;
}

const zero = (): Cost => ({ params: 0, macs: 0 });

/** An MLP with the given hidden widths (ending in its output width); layer norm adds scale and shift. */
export function mlpCost(inWidth: number, layers: readonly number[], layerNorm = false): Cost {
  let params = 0;
  let macs = 0;
  let w = inWidth;
  layers.forEach((out, i) => {
    params += w * out + out;
    macs += w * out;
    if (layerNorm && i < layers.length - 1) params += 2 * out;
    w = out;
  });
  return { params, macs };
}

export interface DomainCost {
  domain: string;
  /** Dense parameters a row of this domain touches (experts run, its gate, its tower). */
  activatedParams: number;
  /** Multiply-adds per row with sparse top-k dispatch. */
  activatedMacs: number;
  /** Multiply-adds per row when every expert of every gate runs (dense dispatch / dense MoE). */
  denseMacs: number;
}

export interface TableCost {
  feature: string;
  /** Rows, or undefined for a vocabulary learned from data. */
  rows?: number;
  dim: number;
}

export interface CostReport {
  inputWidth: number;
  /** All dense (non-embedding) parameters of the model. */
  denseParams: number;
  tables: TableCost[];
  domains: DomainCost[];
}

/**
 * The cost model behind `mdr inspect`: for each domain, what one row actually activates (shared experts,
 * k routed experts, its gate and tower) against what a dense mixture would run. Routed experts count as
 * k / choices of each pool, i.e. in expectation under balanced routing.
 */
export function costReport(spec: Spec): CostReport {
  const widths = componentWidths(spec);
  const D = spec.domain.values.length;
  const pools = new Map(spec.experts.map((p) => [p.name, p]));
  const gates = new Map(spec.gates.map((g) => [g.name, g]));
  const stars = new Map(spec.stars.map((s) => [s.name, s]));
  const expertCost = (p: ExpertPoolSpec) => mlpCost(widths.get(p.input)!, p.layers, p.layer_norm);
  const choicesIn = (g: GateSpec, p: ExpertPoolSpec) => (p.scope === "per_domain" && g.per === "all" ? p.count * D : p.count);
  const gateIn = (g: GateSpec) => widths.get(g.input)! + (g.inputs.includes("domain") ? g.domain_dim : 0) - (g.inputs.includes("features") ? 0 : widths.get(g.input)!);

  // Dense parameter total: every copy of everything.
  let denseParams = 0;
  for (const p of spec.experts) denseParams += expertCost(p).params * p.count * (p.scope === "per_domain" ? D : 1);
  for (const g of spec.gates) {
    const choices = g.pools.reduce((n, name) => n + choicesIn(g, pools.get(name)!), 0);
    const copies = g.per === "domain" ? D : 1;
    denseParams += copies * (gateIn(g) * choices + choices) + (g.inputs.includes("domain") ? D * g.domain_dim : 0);
    if (g.always_on.length && g.always_on_combine === "gate") denseParams += D * (widths.get(g.input)! + 1) * alwaysOnCount(g, pools);
  }
  for (const s of spec.stars) denseParams += starParams(s.layers, widths.get(s.input)!, D, s.partitioned_norm, s.aux_layers, s.aux_dim);
  for (const t of spec.towers) denseParams += mlpCost(widths.get(t.input)!, [...t.layers, 1], t.layer_norm).params * (t.per === "domain" ? D : 1);

  const domains = spec.domain.values.map((domain): DomainCost => {
    const seen = new Set<string>();
    const need = new Map<string, { activated: number; dense: number }>();
    const act = zero();
    let denseMacs = 0;
    const requirePool = (p: ExpertPoolSpec, activated: number, dense: number) => {
      const cur = need.get(p.name) ?? { activated: 0, dense: 0 };
      need.set(p.name, { activated: Math.max(cur.activated, activated), dense: Math.max(cur.dense, dense) });
      visit(p.input);
    };
    const visit = (name: string): void => {
      if (name === FEATURES || seen.has(name)) return;
      seen.add(name);
      const pool = pools.get(name);
      if (pool) {
        const own = pool.count;
        requirePool(pool, own, own);
        return;
      }
      const g = gates.get(name);
      if (g) {
        visit(g.input);
        const choices = g.pools.reduce((n, pn) => n + choicesIn(g, pools.get(pn)!), 0);
        const gateCost = { params: gateIn(g) * choices + choices, macs: gateIn(g) * choices };
        act.params += gateCost.params + (g.inputs.includes("domain") ? g.domain_dim : 0);
        act.macs += gateCost.macs;
        denseMacs += gateCost.macs;
        for (const pn of g.pools) {
          const p = pools.get(pn)!;
          const c = choicesIn(g, p);
          requirePool(p, g.type === "topk" ? ((g.k ?? c) * c) / choices : c, c);
        }
        for (const pn of g.always_on) requirePool(pools.get(pn)!, pools.get(pn)!.count, pools.get(pn)!.count);
        if (g.always_on.length && g.always_on_combine === "gate") {
          const n = alwaysOnCount(g, pools);
          const c = { params: (widths.get(g.input)! + 1) * n, macs: widths.get(g.input)! * n };
          act.params += c.params;
          act.macs += c.macs;
          denseMacs += c.macs;
        }
        return;
      }
      const s = stars.get(name);
      if (s) {
        visit(s.input);
        const c = mlpCost(widths.get(s.input)!, s.layers, s.layer_norm);
        const aux = mlpCost(s.aux_dim, s.aux_layers.length ? [...s.aux_layers, 1] : []);
        // W_shared ⊙ W_d: both factors are touched; the product is one matmul per layer.
        act.params += 2 * c.params + aux.params + s.aux_dim + (s.partitioned_norm ? 4 * widths.get(s.input)! : 0);
        act.macs += c.macs + aux.macs;
        denseMacs += c.macs + aux.macs;
      }
    };
    const tower = spec.towers[0];
    visit(tower.input);
    const t = mlpCost(widths.get(tower.input)!, [...tower.layers, 1], tower.layer_norm);
    act.params += t.params;
    act.macs += t.macs;
    denseMacs += t.macs;
    for (const [name, n] of need) {
      const c = expertCost(pools.get(name)!);
      act.params += c.params * n.activated;
      act.macs += c.macs * n.activated;
      denseMacs += c.macs * n.dense;
    }
    return { domain, activatedParams: Math.round(act.params), activatedMacs: Math.round(act.macs), denseMacs: Math.round(denseMacs) };
  });

  const tables: TableCost[] = [];
  for (const f of spec.features) {
    if (f.kind === "numeric") {
      if (f.transform === "bucketize") tables.push({ feature: f.name, rows: f.boundaries!.length + 1, dim: f.dim! });
      continue;
    }
    if (f.table !== undefined) continue;
    const rows = f.hash_buckets ?? (f.range ? f.range[1] - f.range[0] + 2 : undefined);
    tables.push({ feature: f.name, ...(rows !== undefined ? { rows } : {}), dim: f.dim });
  }
  return { inputWidth: widths.get(FEATURES)!, denseParams, tables, domains };
}

function alwaysOnCount(g: GateSpec, pools: Map<string, ExpertPoolSpec>): number {
  return g.always_on.reduce((n, name) => n + pools.get(name)!.count, 0);
}

function starParams(layers: number[], inWidth: number, D: number, pn: boolean, aux: number[], auxDim: number): number {
  const c = mlpCost(inWidth, layers);
  return (D + 1) * c.params + (pn ? 2 * inWidth * (D + 1) : 0) + D * auxDim + (aux.length ? mlpCost(auxDim, [...aux, 1]).params : 0);
}
