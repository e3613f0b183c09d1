import { FEATURES, type ExpertPoolSpec, type GateSpec, type Spec } from "../spec/types.js";
import type { Report, WasSet } from "./context.js";
import type { ComponentNames } from "./names.js";

/** A gate's pools, k, always-on experts and options that only apply to some gate types. */
export function checkGate(spec: Spec, g: GateSpec, path: string, names: ComponentNames, report: Report, wasSet: WasSet): void {
  const D = spec.domain.values.length;
  const pools: ExpertPoolSpec[] = [];
  const listed = new Set<string>();
  g.pools.forEach((name, j) => {
    const c = names.at(`${path}/pools/${j}`)?.target;
    if (c && c !== FEATURES && c.kind === "pool") pools.push(c.spec);
    listed.add(name);
  });
  g.always_on.forEach((name, j) => {
    const p = `${path}/always_on/${j}`;
    const c = names.at(p)?.target;
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
}

