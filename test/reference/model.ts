/**
 * A plain-TypeScript, float64, row-at-a-time reference of the model semantics of grammar/SEMANTICS.md, written
 * from the spec — not from the graph — so tests can hold ONNX Runtime's output against it. It shares only
 * the parameter naming convention with the builder.
 */
import { hashBucket, type ModelData } from "../../src/plan/model-data.js";
import type { Activation, ExpertPoolSpec, GateSpec, Spec } from "../../src/spec/types.js";

export type Weights = Map<string, { shape: number[]; data: ArrayLike<number> }>;
export type Row = Record<string, string | number | string[] | null>;

type Vec = number[];

class W {
  constructor(private readonly weights: Weights) {}
  get(name: string) {
    const w = this.weights.get(name);
    if (!w) throw new Error(`reference: no parameter ${name}; have ${[...this.weights.keys()].filter((k) => k.startsWith(name.split(".")[0])).join(", ")}`);
    return w;
  }
  /** Row r of a 2-D slice: leading indices select along the first axes. */
  matrix(name: string, lead: number[] = []): (i: number, j: number) => number {
    const { shape, data } = this.get(name);
    const rows = shape[lead.length];
    const cols = shape[lead.length + 1];
    let index = 0;
    for (let a = 0; a < lead.length; a++) index = index * shape[a] + lead[a];
    const base = index * rows * cols;
    return (i, j) => data[base + i * cols + j];
  }
  vector(name: string, lead: number[] = []): Vec {
    const { shape, data } = this.get(name);
    const n = shape[shape.length - 1];
    let index = 0;
    for (let a = 0; a < lead.length; a++) index = index * shape[a] + lead[a];
    return Array.from({ length: n }, (_, j) => data[index * n + j]);
  }
  dims(name: string): number[] {
    return this.get(name).shape;
  }
}

const act = (a: Activation, x: number): number => {
  switch (a) {
    case "relu": return Math.max(0, x);
    case "sigmoid": return 1 / (1 + Math.exp(-x));
    case "tanh": return Math.tanh(x);
    case "silu": return x / (1 + Math.exp(-x));
    case "gelu": return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case "leaky_relu": return x >= 0 ? x : 0.01 * x;
    case "elu": return x >= 0 ? x : Math.exp(x) - 1;
    case "identity": return x;
  }
};

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse for 1e-5; use the series / continued fraction via erfc.
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y = 1 - t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? y : -y;
}

const softmax = (v: Vec): Vec => {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

function layerNorm(v: Vec, scale: Vec, shift: Vec): Vec {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return v.map((x, i) => ((x - mean) / Math.sqrt(variance + 1e-5)) * scale[i] + shift[i]);
}

function affine(x: Vec, w: (i: number, j: number) => number, b: Vec): Vec {
  return b.map((bj, j) => x.reduce((s, xi, i) => s + xi * w(i, j), bj));
}

/** An MLP whose layer l weight is `${prefix}.dense{l}.weight` (stacked: `lead` selects the copy). */
function mlp(w: W, prefix: string, x: Vec, layers: number, a: Activation, layerNorm_: boolean, activateLast: boolean, lead: number[] = []): Vec {
  let h = x;
  for (let l = 1; l <= layers; l++) {
    h = affine(h, w.matrix(`${prefix}.dense${l}.weight`, lead), w.vector(`${prefix}.dense${l}.bias`, lead));
    if (l < layers || activateLast) {
      if (layerNorm_) h = layerNorm(h, w.vector(`${prefix}.dense${l}.ln_scale`, lead), w.vector(`${prefix}.dense${l}.ln_bias`, lead));
      h = h.map((v) => act(a, v));
    }
  }
  return h;
}

export function referenceForward(spec: Spec, weights: Weights, data: ModelData, row: Row): { logit: number; probability: number; tower: Vec } {
  const w = new W(weights);
  const D = spec.domain.values.length;
  const dv = String(row[spec.domain.column] ?? "");
  let d = spec.domain.values.indexOf(dv);
  if (d < 0) d = spec.domain.fallback !== undefined ? spec.domain.values.indexOf(spec.domain.fallback) : 0;

  // ---- features
  const x: Vec = [];
  const featureByName = new Map(spec.features.map((f) => [f.name, f]));
  for (const f of spec.features) {
    const raw = row[f.column];
    if (f.kind === "numeric") {
      let v = raw === null || raw === undefined || raw === "" ? NaN : Number(raw);
      // Missing values, as documented for `missing:`: a constant before the transform, or the training mean.
      if (Number.isNaN(v)) {
        if (f.missing === "zero") v = 0;
        else if (f.missing === "constant") v = f.fill!;
        else if (f.transform === "none" || f.transform === "bucketize") v = data.numeric[f.name]?.mean ?? 0;
      }
      if (f.transform === "bucketize") {
        const bucket = Number.isNaN(v) ? 0 : f.boundaries!.filter((b) => v >= b).length;
        x.push(...w.vector(`features.${f.name}.table`, [bucket]));
        continue;
      }
      const stats = data.numeric[f.name] ?? { mean: 0, std: 1 };
      let t = f.transform === "log1p" ? Math.log1p(Math.max(v, 0)) : v;
      if (f.transform !== "none") t = (t - stats.mean) / (stats.std > 0 ? stats.std : 1);
      x.push(Number.isNaN(t) ? 0 : t);
      continue;
    }
    const owner = (f.table ? featureByName.get(f.table)! : f) as typeof f;
    const table = `embedding.${owner.name}.table`;
    const rowOf = (value: string): number => {
      if (owner.range) {
        const n = Number(value);
        return n >= owner.range[0] && n <= owner.range[1] ? n - owner.range[0] + 1 : 0;
      }
      const vocab = data.vocabularies[owner.name] ?? [];
      const i = vocab.indexOf(value);
      if (i < 0) return 0;
      return owner.hash_buckets !== undefined ? hashBucket(value, owner.hash_buckets) + 1 : i + 1;
    };
    if (f.kind === "categorical") {
      x.push(...w.vector(table, [rowOf(String(raw ?? ""))]));
    } else {
      const values = (Array.isArray(raw) ? raw : String(raw ?? "").split(f.separator)).filter((s) => s !== "");
      const sum = new Array(f.dim).fill(0);
      for (const v of values) w.vector(table, [rowOf(v)]).forEach((e, j) => (sum[j] += e));
      x.push(...(f.pooling === "mean" && values.length ? sum.map((s) => s / values.length) : sum));
    }
  }

  // ---- components
  const pools = new Map(spec.experts.map((p) => [p.name, p]));
  const memo = new Map<string, Vec>();
  const copiesOf = (p: ExpertPoolSpec) => (p.scope === "per_domain" ? p.count * D : p.count);
  const expert = (p: ExpertPoolSpec, c: number): Vec =>
    mlp(w, `pool.${p.name}`, out(p.input), p.layers.length, p.activation, p.layer_norm, true, [c]);

  const out = (name: string): Vec => {
    if (name === "features") return x;
    const hit = memo.get(name);
    if (hit) return hit;
    let v: Vec;
    const pool = pools.get(name);
    const gate = spec.gates.find((gg) => gg.name === name);
    const star = spec.stars.find((s) => s.name === name);
    if (pool) {
      const copies = pool.scope === "per_domain" ? Array.from({ length: pool.count }, (_, j) => d * pool.count + j) : Array.from({ length: pool.count }, (_, j) => j);
      const outs = copies.map((c) => expert(pool, c));
      v = outs[0].map((_, j) => outs.reduce((s, o) => s + o[j], 0) / outs.length);
    } else if (gate) {
      v = gateOut(gate);
    } else if (star) {
      let h = out(star.input);
      const p = `star.${star.name}`;
      if (star.partitioned_norm) {
        const mean = w.vector(`${p}.partitioned_norm.running_mean`);
        const variance = w.vector(`${p}.partitioned_norm.running_var`);
        const gamma = w.vector(`${p}.partitioned_norm.scale`);
        const beta = w.vector(`${p}.partitioned_norm.shift`);
        const gd = w.vector(`${p}.partitioned_norm.domain_scale`, [d]);
        const bd = w.vector(`${p}.partitioned_norm.domain_shift`, [d]);
        h = h.map((t, i) => ((t - mean[i]) / Math.sqrt(variance[i] + 1e-5)) * gamma[i] * gd[i] + beta[i] + bd[i]);
      }
      for (let l = 1; l <= star.layers.length; l++) {
        const ws = w.matrix(`${p}.shared.dense${l}.weight`);
        const wd = w.matrix(`${p}.domain.dense${l}.weight`, [d]);
        const bs = w.vector(`${p}.shared.dense${l}.bias`);
        const bd = w.vector(`${p}.domain.dense${l}.bias`, [d]);
        h = affine(h, (i, j) => ws(i, j) * wd(i, j), bs.map((b, j) => b + bd[j]));
        if (star.layer_norm) h = layerNorm(h, w.vector(`${p}.shared.dense${l}.ln_scale`), w.vector(`${p}.shared.dense${l}.ln_bias`));
        h = h.map((t) => act(star.activation, t));
      }
      v = h;
    } else {
      throw new Error(`reference: unknown component ${name}`);
    }
    memo.set(name, v);
    return v;
  };

  const gateOut = (gate: GateSpec): Vec => {
    const prefix = `gate.${gate.name}`;
    const choices: { pool: ExpertPoolSpec; copy: number }[] = [];
    for (const pn of gate.pools) {
      const p = pools.get(pn)!;
      if (p.scope === "per_domain" && gate.per === "domain") for (let j = 0; j < p.count; j++) choices.push({ pool: p, copy: d * p.count + j });
      else for (let c = 0; c < copiesOf(p); c++) choices.push({ pool: p, copy: c });
    }
    const gin: Vec = [];
    if (gate.inputs.includes("features")) gin.push(...out(gate.input));
    if (gate.inputs.includes("domain")) gin.push(...w.vector(`${prefix}.domain_embedding.table`, [d]));
    const E = choices.length;
    const Wr = w.matrix(`${prefix}.router.weight`);
    const br = w.vector(`${prefix}.router.bias`);
    const base = gate.per === "domain" ? d * E : 0;
    const logits = Array.from({ length: E }, (_, e) => gin.reduce((s, xi, i) => s + xi * Wr(i, base + e), br[base + e]));
    const probs = softmax(logits);
    let selected: { e: number; weight: number }[];
    if (gate.type === "topk") {
      const k = gate.k!;
      const by = gate.topk_order === "before_softmax" ? logits : probs;
      const top = by.map((v, e) => ({ v, e })).sort((a, b) => b.v - a.v || a.e - b.e).slice(0, k);
      if (gate.topk_order === "before_softmax") {
        const sm = softmax(top.map((t) => t.v));
        selected = top.map((t, j) => ({ e: t.e, weight: sm[j] }));
      } else {
        const s = top.reduce((a, t) => a + t.v, 0);
        selected = top.map((t) => ({ e: t.e, weight: gate.renormalize ? t.v / s : t.v }));
      }
    } else {
      selected = probs.map((p, e) => ({ e, weight: p }));
    }
    const width = choices[0].pool.layers[choices[0].pool.layers.length - 1];
    const h = new Array(width).fill(0);
    for (const { e, weight } of selected) {
      const y = expert(choices[e].pool, choices[e].copy);
      y.forEach((v, j) => (h[j] += weight * v));
    }
    if (gate.always_on.length) {
      const outs: Vec[] = [];
      for (const pn of gate.always_on) {
        const p = pools.get(pn)!;
        for (let c = 0; c < p.count; c++) outs.push(expert(p, c));
      }
      let weights = outs.map(() => 1 / outs.length);
      if (gate.always_on_combine === "gate") {
        const S = outs.length;
        const Wa = w.matrix(`${prefix}.always_on.gate_weight`);
        const ba = w.vector(`${prefix}.always_on.gate_bias`);
        weights = softmax(Array.from({ length: S }, (_, s) => gin.reduce((acc, xi, i) => acc + xi * Wa(i, d * S + s), ba[d * S + s])));
      }
      outs.forEach((o, s) => o.forEach((v, j) => (h[j] += weights[s] * v)));
    }
    return h;
  };

  const tower = spec.towers[0];
  const tin = out(tower.input);
  const towerLayers = tower.layers.length + 1;
  const prefix = `tower.${tower.name}`;
  // A retrieval tower's last layer is the embedding (its whole output); a ranking tower's is one logit.
  const towerOut = mlp(w, prefix, tin, towerLayers, tower.activation, tower.layer_norm, false, tower.per === "domain" ? [d] : []);
  let logit = towerOut[0];
  for (const s of spec.stars) {
    if (!s.aux_layers.length) continue;
    const emb = w.vector(`star.${s.name}.aux.domain_table`, [d]);
    logit += mlp(w, `star.${s.name}.aux`, emb, s.aux_layers.length + 1, s.activation, false, false)[0];
  }
  return { logit, probability: 1 / (1 + Math.exp(-logit)), tower: towerOut };
}
