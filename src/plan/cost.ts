import type { ModelPlan, Planned, PlannedGate, PlannedPool, PlannedStar } from "./plan.js";

/** Parameters and multiply-adds of one dense layer stack. */
export interface Cost {
  params: number;
  macs: number;
}

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
  /** Rows including the out-of-vocabulary row, or undefined for a vocabulary learned from data. */
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
export function costReport(plan: ModelPlan): CostReport {
  const D = plan.domains;
  const expertCost = (p: PlannedPool) => mlpCost(p.input.width, p.spec.layers, p.spec.layer_norm);
  const gateIn = (g: PlannedGate) => (g.spec.inputs.includes("features") ? g.input.width : 0) + (g.spec.inputs.includes("domain") ? g.spec.domain_dim : 0);
  const alwaysOnCount = (g: PlannedGate) => g.alwaysOn.reduce((n, p) => n + p.spec.count, 0);
  /** A choice of a per-domain gate over a per_domain pool is one of the domain's own copies. */
  const choicesIn = (g: PlannedGate, p: PlannedPool) => (p.spec.scope === "per_domain" && g.spec.per === "all" ? p.copies : p.spec.count);

  // Dense parameter total: every copy of everything.
  let denseParams = 0;
  for (const c of plan.components) {
    if (c.kind === "pool") denseParams += expertCost(c).params * c.copies;
    else if (c.kind === "gate") {
      const copies = c.spec.per === "domain" ? D : 1;
      denseParams += copies * (gateIn(c) * c.choices + c.choices) + (c.spec.inputs.includes("domain") ? D * c.spec.domain_dim : 0);
      if (c.alwaysOn.length && c.spec.always_on_combine === "gate") denseParams += D * (c.input.width + 1) * alwaysOnCount(c);
    } else denseParams += starParams(c, D);
  }
  const t = plan.tower;
  denseParams += mlpCost(t.input.width, [...t.spec.layers, t.width], t.spec.layer_norm).params * (t.spec.per === "domain" ? D : 1);

  const domains = plan.spec.domain.values.map((domain): DomainCost => {
    const seen = new Set<string>();
    const need = new Map<PlannedPool, { activated: number; dense: number }>();
    const act: Cost = { params: 0, macs: 0 };
    let denseMacs = 0;
    const requirePool = (p: PlannedPool, activated: number, dense: number) => {
      const cur = need.get(p) ?? { activated: 0, dense: 0 };
      need.set(p, { activated: Math.max(cur.activated, activated), dense: Math.max(cur.dense, dense) });
      visit(p.input);
    };
    const visit = (c: Planned): void => {
      if (c.kind === "features" || c.kind === "tower" || seen.has(c.name)) return;
      seen.add(c.name);
      if (c.kind === "pool") return requirePool(c, c.spec.count, c.spec.count);
      if (c.kind === "star") {
        visit(c.input);
        const m = mlpCost(c.input.width, c.spec.layers, c.spec.layer_norm);
        const auxDim = c.spec.aux_layers.length ? c.spec.aux_dim : 0;
        const aux = mlpCost(auxDim, c.spec.aux_layers.length ? [...c.spec.aux_layers, 1] : []);
        // W_shared ⊙ W_d: both factors are touched; the product is one matmul per layer.
        act.params += 2 * m.params + aux.params + auxDim + (c.spec.partitioned_norm ? 4 * c.input.width : 0);
        act.macs += m.macs + aux.macs;
        denseMacs += m.macs + aux.macs;
        return;
      }
      visit(c.input);
      const choices = c.pools.reduce((n, p) => n + choicesIn(c, p), 0);
      act.params += gateIn(c) * choices + choices + (c.spec.inputs.includes("domain") ? c.spec.domain_dim : 0);
      act.macs += gateIn(c) * choices;
      denseMacs += gateIn(c) * choices;
      for (const p of c.pools) {
        const n = choicesIn(c, p);
        requirePool(p, c.spec.type === "topk" ? ((c.spec.k ?? n) * n) / choices : n, n);
      }
      for (const p of c.alwaysOn) requirePool(p, p.spec.count, p.spec.count);
      if (c.alwaysOn.length && c.spec.always_on_combine === "gate") {
        const n = alwaysOnCount(c);
        act.params += (c.input.width + 1) * n;
        act.macs += c.input.width * n;
        denseMacs += c.input.width * n;
      }
    };
    visit(t.input);
    const tower = mlpCost(t.input.width, [...t.spec.layers, t.width], t.spec.layer_norm);
    act.params += tower.params;
    act.macs += tower.macs;
    denseMacs += tower.macs;
    for (const [p, n] of need) {
      const c = expertCost(p);
      act.params += c.params * n.activated;
      act.macs += c.macs * n.activated;
      denseMacs += c.macs * n.dense;
    }
    return { domain, activatedParams: Math.round(act.params), activatedMacs: Math.round(act.macs), denseMacs: Math.round(denseMacs) };
  });

  const tables = plan.tables.map((x): TableCost => ({ feature: x.owner, ...(x.rows !== undefined ? { rows: x.rows } : {}), dim: x.dim }));
  return { inputWidth: plan.features.width, denseParams, tables, domains };
}

function starParams(s: PlannedStar, D: number): number {
  const c = mlpCost(s.input.width, s.spec.layers);
  const aux = s.spec.aux_layers;
  return (D + 1) * c.params + (s.spec.partitioned_norm ? 2 * s.input.width * (D + 1) : 0) + (aux.length ? D * s.spec.aux_dim + mlpCost(s.spec.aux_dim, [...aux, 1]).params : 0);
}
