import { createDiagnostic, type Diagnostic, type DiagnosticInit } from "../diagnostics/diagnostic.js";
import type { DiagnosticName } from "../diagnostics/codes.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { joinPath, type SourceMap } from "../spec/source-map.js";
import { FEATURES, type ExpertPoolSpec, type GateSpec, type Spec } from "../spec/types.js";
import { componentWidths } from "./widths.js";

type Raw = Record<string, unknown>;
type Component = { kind: "pool"; spec: ExpertPoolSpec; path: string }
  | { kind: "gate"; spec: GateSpec; path: string }
  | { kind: "star"; spec: { name: string; input: string }; path: string }
  | { kind: "tower"; spec: { name: string; input: string }; path: string };

/**
 * Semantic rules over a schema-valid spec: names resolve, options agree, the dataflow is acyclic.
 * Also fills the defaults that depend on other values (a gate's input, embedding_lr, optimizer constants),
 * so the returned spec is canonical. `explicit` is the spec as written, before schema defaults, so that
 * "you set X, which contradicts Y" is only said of what the user actually set.
 */
export function checkSpec(spec: Spec, explicit: Raw, sourceMap: SourceMap): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (name: DiagnosticName, path: string, init: Omit<DiagnosticInit, "span" | "path">, at: "key" | "value" = "value") =>
    out.push(createDiagnostic(name, { ...init, span: at === "key" ? sourceMap.keySpan(path) : sourceMap.valueSpan(path), path }));
  const wasSet = (path: string) => getPath(explicit, path) !== undefined;

  checkDomain(spec, report, wasSet);
  checkFeatures(spec, report, wasSet);

  // One namespace for everything an `input:` can name.
  const components = new Map<string, Component>();
  const declare = (c: Component) => {
    const namePath = `${c.path}/name`;
    if (c.spec.name === FEATURES) {
      report("duplicate-name", namePath, { message: `'${FEATURES}' is reserved for the model input.`, hint: "Choose another name." });
    } else if (components.has(c.spec.name)) {
      report("duplicate-name", namePath, {
        message: `'${c.spec.name}' is already the name of a ${components.get(c.spec.name)!.kind}.`,
        hint: "Give every pool, gate, STAR layer and tower its own name.",
      });
    } else {
      components.set(c.spec.name, c);
    }
  };
  spec.experts.forEach((p, i) => declare({ kind: "pool", spec: p, path: `/experts/${i}` }));
  spec.gates.forEach((g, i) => declare({ kind: "gate", spec: g, path: `/gates/${i}` }));
  spec.stars.forEach((s, i) => declare({ kind: "star", spec: s, path: `/stars/${i}` }));
  spec.towers.forEach((t, i) => declare({ kind: "tower", spec: t, path: `/towers/${i}` }));

  const used = new Set<string>();
  /** Resolves a reference; `kinds` are the component kinds allowed there. */
  const resolve = (path: string, name: string, kinds: Component["kind"][], allowFeatures: boolean): Component | "features" | undefined => {
    if (allowFeatures && name === FEATURES) return FEATURES;
    const c = components.get(name);
    if (c && kinds.includes(c.kind)) {
      used.add(name);
      return c;
    }
    const candidates = [...components.values()].filter((x) => kinds.includes(x.kind)).map((x) => x.spec.name);
    if (allowFeatures) candidates.push(FEATURES);
    const what = kinds.length === 1 ? ({ pool: "expert pool", gate: "gate", star: "STAR layer", tower: "tower" }[kinds[0]]) : "component";
    report("unknown-reference", path, {
      message: c ? `'${name}' is a ${c.kind}, not ${article(what)}.` : `There is no ${what} named '${name}'.`,
      hint: didYouMean(name, candidates) ?? (candidates.length ? `Known: ${candidates.join(", ")}.` : `Declare it first.`),
    });
    return undefined;
  };

  const inputKinds: Component["kind"][] = ["pool", "gate", "star"];
  spec.experts.forEach((p, i) => resolve(`/experts/${i}/input`, p.input, inputKinds, true));
  spec.stars.forEach((s, i) => resolve(`/stars/${i}/input`, s.input, inputKinds, true));
  spec.towers.forEach((t, i) => resolve(`/towers/${i}/input`, t.input, inputKinds, true));
  spec.gates.forEach((g, i) => checkGate(spec, g, `/gates/${i}`, resolve, report, wasSet));

  if (spec.towers.length !== 1) {
    report("missing-tower", spec.towers.length === 0 ? "/towers" : "/towers/1/name", {
      message: spec.towers.length === 0 ? "The model has no tower." : "A model has exactly one tower; this is a second.",
      hint: spec.towers.length === 0 ? "Add `tower { input: <gate>, layers: [32] }`." : "Use `per: domain` for a tower per domain.",
    });
  }

  const cycle = findCycle(spec);
  if (cycle) {
    const c = components.get(cycle[0])!;
    report("cycle", `${c.path}/name`, {
      message: `Inputs form a cycle: ${cycle.join(" → ")}.`,
      hint: "Every component must read only from components closer to the features.",
    });
  }

  for (const [name, c] of components) {
    if (used.has(name) || c.kind === "tower") continue;
    if (c.kind === "pool") {
      report("unused-pool", `${c.path}/name`, { message: `No gate, tower or layer uses the pool '${name}'.`, hint: "Mix it in a gate's `pools`, or remove it." });
    } else {
      report("unused-gate", `${c.path}/name`, { message: `Nothing reads the output of ${c.kind} '${name}'.`, hint: "Name it as some component's `input`, or remove it." });
    }
  }

  checkLoss(spec, report, wasSet);
  checkTrain(spec, report, wasSet);
  if (!out.some((d) => d.severity === "error")) {
    checkWidths(spec, report);
    pruneInapplicable(spec);
  }
  return out;
}

/**
 * Schema defaults are filled blindly; the canonical spec keeps only options that mean something where
 * they stand (no `renormalize` on a softmax gate, no `min_count` on a hashed field), so that reading the
 * canonical JSON back yields the same spec and no "ineffective option" warnings.
 */
function pruneInapplicable(spec: Spec): void {
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
}

type Report = (name: DiagnosticName, path: string, init: Omit<DiagnosticInit, "span" | "path">, at?: "key" | "value") => void;
type WasSet = (path: string) => boolean;

function checkDomain(spec: Spec, report: Report, wasSet: WasSet): void {
  const d = spec.domain;
  d.column ??= d.name;
  if (d.values.length === 0) {
    report("empty-domain-list", "/domain/values", { message: "The domain lists no values.", hint: "List the domain values in id order: `values: [search, feed]`." });
  }
  const seen = new Set<string>();
  d.values.forEach((v, i) => {
    if (seen.has(v)) report("duplicate-domain-value", `/domain/values/${i}`, { message: `The domain value '${v}' is listed twice.`, hint: "List each value once." });
    seen.add(v);
  });
  const weights: Record<string, number> = {};
  for (const v of d.values) weights[v] = 1;
  for (const [v, w] of Object.entries(d.weights ?? {})) {
    const path = joinPath("/domain/weights", v);
    if (!seen.has(v)) {
      report("unknown-reference", path, { message: `'${v}' is not a listed domain value.`, hint: didYouMean(v, d.values) ?? `Values: ${d.values.join(", ")}.` }, "key");
    }
    if (w < 0) report("negative-weight", path, { message: `The loss weight of domain '${v}' is negative (${w}).`, hint: "Use 0 to ignore a domain's loss." });
    weights[v] = w;
  }
  d.weights = weights;
  if (d.unknown === "fallback" && d.fallback === undefined) {
    report("missing-property", "/domain/unknown", { message: "`unknown: fallback` needs a `fallback` value.", hint: "Add `fallback: <one of the values>`." });
  } else if (d.unknown !== "fallback" && wasSet("/domain/fallback")) {
    report("contradictory-options", "/domain/fallback", {
      message: `'fallback' is set but unknown values are handled by '${d.unknown}'.`,
      hint: "Set `unknown: fallback`, or remove `fallback`.",
    }, "key");
  } else if (d.fallback !== undefined && !seen.has(d.fallback)) {
    report("unknown-reference", "/domain/fallback", { message: `The fallback '${d.fallback}' is not a listed domain value.`, hint: didYouMean(d.fallback, d.values) ?? `Values: ${d.values.join(", ")}.` });
  }
}

function checkFeatures(spec: Spec, report: Report, wasSet: WasSet): void {
  const byName = new Map<string, number>();
  spec.features.forEach((f, i) => {
    const path = `/features/${i}`;
    f.column ??= f.name;
    if (byName.has(f.name)) report("duplicate-name", `${path}/name`, { message: `There is already a feature named '${f.name}'.`, hint: "Give each feature its own name." });
    else byName.set(f.name, i);
    if (f.kind === "numeric") {
      const bucketize = f.transform === "bucketize";
      if (bucketize && !f.boundaries) {
        report("missing-property", `${path}/transform`, { message: "`transform: bucketize` needs `boundaries`.", hint: "Add `boundaries: [b1, b2, …]`, increasing." });
      }
      for (const key of ["boundaries", "dim"] as const) {
        if (!bucketize && wasSet(`${path}/${key}`)) {
          report("contradictory-options", `${path}/${key}`, { message: `'${key}' only applies to \`transform: bucketize\`, not '${f.transform}'.`, hint: `Remove '${key}' or set \`transform: bucketize\`.` }, "key");
        }
      }
      if (f.boundaries?.some((b, j) => j > 0 && b <= f.boundaries![j - 1])) {
        report("out-of-range", `${path}/boundaries`, { message: "Bucket boundaries must be strictly increasing.", hint: "Sort them and remove repeats." });
      }
      if (bucketize) f.dim ??= 8;
      return;
    }
    const vocabKeys = ["hash_buckets", "range", "table"].filter((k) => wasSet(`${path}/${k}`));
    if (vocabKeys.length > 1 || (vocabKeys.length === 1 && wasSet(`${path}/min_count`))) {
      const keys = wasSet(`${path}/min_count`) ? [...vocabKeys, "min_count"] : vocabKeys;
      report("contradictory-options", `${path}/${keys[1]}`, {
        message: `'${keys[0]}' and '${keys[1]}' are two different vocabularies.`,
        hint: "Choose one: a learned vocabulary (min_count), hash_buckets, range, or a shared table.",
      }, "key");
    }
    if (f.range && f.range[0] > f.range[1]) {
      report("out-of-range", `${path}/range`, { message: `The range [${f.range[0]}, ${f.range[1]}] is empty.`, hint: "Write `range: [min, max]` with min ≤ max." });
    }
  });
  // Shared tables: resolve after all names are known; the sharer takes the owner's width and vocabulary.
  spec.features.forEach((f, i) => {
    if (f.kind === "numeric" || f.table === undefined) return;
    const path = `/features/${i}/table`;
    const j = byName.get(f.table);
    const owner = j === undefined ? undefined : spec.features[j];
    if (!owner || owner.kind === "numeric" || owner === f) {
      const candidates = spec.features.filter((g) => g.kind !== "numeric" && g !== f).map((g) => g.name);
      report("unknown-reference", path, {
        message: owner === f ? "A field cannot share its own table." : `There is no categorical feature '${f.table}' whose table could be shared.`,
        hint: didYouMean(f.table, candidates) ?? `Categorical features: ${candidates.join(", ") || "none"}.`,
      });
      return;
    }
    if (owner.table !== undefined) {
      report("table-mismatch", path, { message: `'${owner.name}' itself shares '${owner.table}''s table.`, hint: `Write \`table: ${owner.table}\`.` });
      return;
    }
    if (wasSet(`/features/${i}/dim`) && f.dim !== owner.dim) {
      report("table-mismatch", `/features/${i}/dim`, {
        message: `'${f.name}' has dim ${f.dim} but shares the table of '${owner.name}', whose dim is ${owner.dim}.`,
        hint: "Remove `dim`: a shared table has its owner's width.",
      });
    }
    f.dim = owner.dim;
  });
}

type Resolve = (path: string, name: string, kinds: Component["kind"][], allowFeatures: boolean) => Component | "features" | undefined;

function checkGate(spec: Spec, g: GateSpec, path: string, resolve: Resolve, report: Report, wasSet: WasSet): void {
  const D = spec.domain.values.length;
  const pools: ExpertPoolSpec[] = [];
  const listed = new Set<string>();
  g.pools.forEach((name, j) => {
    const c = resolve(`${path}/pools/${j}`, name, ["pool"], false);
    if (c && c !== FEATURES && c.kind === "pool") pools.push(c.spec);
    listed.add(name);
  });
  g.always_on.forEach((name, j) => {
    const p = `${path}/always_on/${j}`;
    const c = resolve(p, name, ["pool"], false);
    if (!c || c === FEATURES || c.kind !== "pool") return;
    if (listed.has(name)) {
      report("contradictory-options", p, { message: `'${name}' is both gated and always on.`, hint: "List a pool in `pools` or in `always_on`, not both." });
    } else if (c.spec.scope !== "shared") {
      report("contradictory-options", p, { message: `'${name}' is a ${c.spec.scope} pool; always-on experts are shared by every row.`, hint: "Use a `scope: shared` pool here." });
    }
  });
  for (const pool of pools) {
    if (pool.scope === "routed" && g.type !== "topk") {
      report("contradictory-options", `${path}/type`, {
        message: `The routed pool '${pool.name}' is mixed by a dense '${g.type}' gate.`,
        hint: "Use `type: topk` with `k`, or give the pool `scope: shared` for a dense mixture.",
      }, wasSet(`${path}/type`) ? "value" : "key");
    }
  }
  // A per-domain gate sees only its domain's copies of a per_domain pool; a router sees all of them.
  const choices = pools.reduce((n, p) => n + (p.scope === "per_domain" && g.per === "all" ? p.count * D : p.count), 0);
  if (g.type === "topk") {
    if (g.k === undefined) {
      report("missing-property", `${path}/type`, { message: `The top-k gate '${g.name}' needs 'k'.`, hint: "Add `k: 2` (experts kept per row)." });
    } else if (pools.length === g.pools.length && (g.k < 1 || g.k > choices)) {
      report("invalid-k", `${path}/k`, {
        message: `k is ${g.k} but gate '${g.name}' chooses among ${choices} expert${choices === 1 ? "" : "s"}.`,
        hint: `Use 1 ≤ k ≤ ${choices}.`,
      });
    } else if (pools.length === g.pools.length && g.k === choices) {
      report("dense-topk", `${path}/k`, {
        message: `k = ${g.k} keeps every expert, so the top-k gate '${g.name}' is dense.`,
        hint: "Lower k to save compute, or use `type: softmax`.",
      });
    }
  } else {
    if (wasSet(`${path}/k`)) {
      report("contradictory-options", `${path}/k`, { message: `'k' is set but gate '${g.name}' is a dense softmax gate.`, hint: "Add `type: topk`, or remove `k`." }, "key");
    }
    for (const key of ["topk_order", "renormalize", "dispatch"]) {
      if (wasSet(`${path}/${key}`)) report("ineffective-option", `${path}/${key}`, { message: `'${key}' has no effect on a softmax gate.`, hint: "Remove it, or add `type: topk`." }, "key");
    }
  }
  if (g.type === "topk" && g.topk_order === "before_softmax" && wasSet(`${path}/renormalize`)) {
    report("ineffective-option", `${path}/renormalize`, { message: "With `topk_order: before_softmax` the kept weights already sum to 1.", hint: "Remove `renormalize`." }, "key");
  }
  if (wasSet(`${path}/always_on_combine`) && g.always_on.length === 0) {
    report("ineffective-option", `${path}/always_on_combine`, { message: "'always_on_combine' is set but the gate has no always-on pools.", hint: "Add `always_on: [pool]`, or remove it." }, "key");
  }
  if (g.per === "domain" && g.inputs.includes("domain")) {
    report("ineffective-option", `${path}/inputs`, { message: "A per-domain gate already knows its domain; the domain input adds nothing.", hint: "Use `inputs: [features]`, or `per: all` for one router." });
  }
  if (wasSet(`${path}/domain_dim`) && !g.inputs.includes("domain")) {
    report("ineffective-option", `${path}/domain_dim`, { message: "'domain_dim' is set but the gate does not read the domain.", hint: "Add domain to `inputs`, or remove it." }, "key");
  }
  if (wasSet(`${path}/input`)) resolve(`${path}/input`, g.input, ["pool", "gate", "star"], true);
  else g.input = pools[0]?.input ?? FEATURES;
}

function checkLoss(spec: Spec, report: Report, wasSet: WasSet): void {
  const loss = spec.loss;
  for (const key of ["bce", "mutual_information", "load_balance", "l2_embedding"] as const) {
    if (loss[key] < 0) report("negative-weight", `/loss/${key}`, { message: `The weight of '${key}' is negative (${loss[key]}).`, hint: "Loss weights are ≥ 0; use 0 to turn a term off." });
  }
  const routerLoss = (["mutual_information", "load_balance"] as const).filter((k) => loss[k] > 0);
  const routers = spec.gates.filter((g) => g.per === "all");
  if (loss.router !== undefined) {
    const g = spec.gates.find((x) => x.name === loss.router);
    if (!g) {
      report("unknown-reference", "/loss/router", { message: `There is no gate named '${loss.router}'.`, hint: didYouMean(loss.router, spec.gates.map((x) => x.name)) ?? "Name a gate with `per: all`." });
    } else if (g.per !== "all") {
      report("contradictory-options", "/loss/router", { message: `'${g.name}' is a per-domain gate, not a router.`, hint: "Router losses need a gate with `per: all`." });
    }
    if (routerLoss.length === 0) report("ineffective-option", "/loss/router", { message: "'router' is set but no router loss has a positive weight.", hint: "Set `mutual_information` or `load_balance`, or remove it." }, "key");
    return;
  }
  if (routerLoss.length === 0) return;
  if (routers.length === 0) {
    report("router-loss-without-router", `/loss/${routerLoss[0]}`, {
      message: `'${routerLoss[0]}' needs a router, and this model has none.`,
      hint: "Add a gate with `per: all` (one router for all rows), or set this weight to 0.",
    }, "key");
  } else if (routers.length > 1) {
    report("ambiguous-router", `/loss/${routerLoss[0]}`, {
      message: `'${routerLoss[0]}' could apply to any of ${routers.map((g) => `'${g.name}'`).join(", ")}.`,
      hint: `Add \`router: ${routers[0].name}\` to the loss section.`,
    }, "key");
  } else {
    loss.router = routers[0].name;
  }
  void wasSet;
}

function checkTrain(spec: Spec, report: Report, wasSet: WasSet): void {
  const t = spec.train;
  t.embedding_lr ??= t.lr;
  const only: Record<string, string> = { momentum: "sgd", beta1: "adam", beta2: "adam" };
  for (const [key, optimizer] of Object.entries(only)) {
    if (wasSet(`/train/${key}`) && t.optimizer !== optimizer) {
      report("contradictory-options", `/train/${key}`, { message: `'${key}' belongs to ${optimizer}, but the optimizer is ${t.optimizer}.`, hint: `Remove '${key}', or use \`optimizer: ${optimizer}\`.` }, "key");
    }
  }
  if (wasSet("/train/eps") && t.optimizer === "sgd") {
    report("contradictory-options", "/train/eps", { message: "'eps' has no meaning for sgd.", hint: "Remove it, or use adam or adagrad." }, "key");
  }
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

function checkWidths(spec: Spec, report: Report): void {
  const widths = componentWidths(spec);
  spec.gates.forEach((g, i) => {
    const names = [...g.pools, ...g.always_on];
    const first = names[0];
    for (const name of names.slice(1)) {
      if (widths.get(name) !== widths.get(first)) {
        const j = g.pools.indexOf(name);
        report("width-mismatch", j >= 0 ? `/gates/${i}/pools/${j}` : `/gates/${i}/always_on/${g.always_on.indexOf(name)}`, {
          message: `Gate '${g.name}' mixes '${first}' (width ${widths.get(first)}) with '${name}' (width ${widths.get(name)}).`,
          hint: "Give the mixed pools the same last layer width.",
        });
        return;
      }
    }
  });
}

/** Component graph edges point from a component to what it reads; a cycle is a list of names. */
function findCycle(spec: Spec): string[] | undefined {
  const edges = new Map<string, string[]>();
  for (const p of spec.experts) edges.set(p.name, [p.input]);
  for (const s of spec.stars) edges.set(s.name, [s.input]);
  for (const t of spec.towers) edges.set(t.name, [t.input]);
  for (const g of spec.gates) edges.set(g.name, [...g.pools, ...g.always_on, ...(g.input ? [g.input] : [])]);
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "done" || !edges.has(n)) return undefined;
    if (state.get(n) === "visiting") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "visiting");
    stack.push(n);
    for (const m of edges.get(n)!) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of edges.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split("/").filter(Boolean)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return cur;
}

function article(what: string): string {
  return /^[aeiou]/i.test(what) ? `an ${what}` : `a ${what}`;
}
