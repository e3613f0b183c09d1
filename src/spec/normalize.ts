import { FEATURES, type GateSpec, type Spec } from "./types.js";

/** Whether the user wrote a value at this JSON path (as opposed to a filled-in default). */
export type WasSet = (path: string) => boolean;

/**
 * Defaults that depend on other values, filled after the schema's own defaults and before the checker,
 * which then only reads the spec: columns default to names, domain weights to 1, a bucketized field's width
 * to 8, a shared table's width to its owner's, a gate's input to its first pool's, the router losses' gate
 * to the model's only router, `embedding_lr` to `lr`, and each optimizer's constants to PyTorch's.
 * Names that do not resolve are left alone: the checker reports them.
 */
export function fillDerivedDefaults(spec: Spec, wasSet: WasSet): void {
  const d = spec.domain;
  d.column ??= d.name;
  d.weights = { ...Object.fromEntries(d.values.map((v) => [v, 1])), ...(d.weights ?? {}) };
  const byName = new Map(spec.features.map((f) => [f.name, f]));
  spec.features.forEach((f, i) => {
    f.column ??= f.name;
    if (f.kind === "numeric") {
      if (f.transform === "bucketize") f.dim ??= 8;
      return;
    }
    const owner = f.table === undefined ? undefined : byName.get(f.table);
    if (owner && owner !== f && owner.kind !== "numeric" && !wasSet(`/features/${i}/dim`)) f.dim = owner.dim;
  });
  const pools = new Map(spec.experts.map((p) => [p.name, p]));
  spec.gates.forEach((g, i) => {
    if (!wasSet(`/gates/${i}/input`)) g.input = pools.get(g.pools[0])?.input ?? FEATURES;
  });
  const loss = spec.loss;
  const routers = spec.gates.filter((g: GateSpec) => g.per === "all");
  if (loss.router === undefined && routers.length === 1 && (loss.mutual_information > 0 || loss.load_balance > 0)) loss.router = routers[0].name;
  const t = spec.train;
  t.embedding_lr ??= t.lr;
  if (t.optimizer === "adam") {
    t.beta1 ??= 0.9;
    t.beta2 ??= 0.999;
    t.eps ??= 1e-8;
  } else if (t.optimizer === "adagrad") {
    t.eps ??= 1e-10;
  } else {
    t.momentum ??= 0;
  }
}

/**
 * Schema defaults are filled blindly; the canonical spec keeps only options that mean something where
 * they stand (no `renormalize` on a softmax gate, no `min_count` on a hashed field), so that reading the
 * canonical JSON back yields the same spec and no "ineffective option" warnings.
 */
export function pruneInapplicable(spec: Spec): void {
  for (const f of spec.features) {
    if (f.kind !== "numeric" && (f.hash_buckets !== undefined || f.range !== undefined || f.table !== undefined)) {
      delete (f as { min_count?: number }).min_count;
    }
  }
  for (const g of spec.gates) {
    const loose = g as Partial<GateSpec>;
    if (g.type !== "topk") {
      delete loose.topk_order;
      delete loose.renormalize;
      delete loose.dispatch;
    } else if (g.topk_order === "before_softmax") {
      delete loose.renormalize;
    }
    if (!g.inputs.includes("domain")) delete loose.domain_dim;
    if (g.always_on.length === 0) delete loose.always_on_combine;
  }
  for (const s of spec.stars) if (s.aux_layers.length === 0) delete (s as { aux_dim?: number }).aux_dim;
  for (const f of spec.features) if (f.kind === "numeric" && f.missing !== "constant") delete f.fill;
}

/** The value at a JSON pointer path, or undefined. */
export function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split("/").filter(Boolean)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return cur;
}
