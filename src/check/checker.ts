import type { DiagnosticName } from "../diagnostics/codes.js";
import { createDiagnostic, type Diagnostic, type DiagnosticInit } from "../diagnostics/diagnostic.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { getPath } from "../spec/normalize.js";
import type { SourceMap } from "../spec/source-map.js";
import { FEATURES, type Spec } from "../spec/types.js";
import type { Component, Report } from "./context.js";
import { checkGate } from "./gates.js";
import { checkDomain, checkFeatures, checkLoss, checkTrain } from "./sections.js";
import { componentWidths } from "./widths.js";

type Raw = Record<string, unknown>;

/**
 * Semantic rules over a schema-valid spec with its derived defaults filled: names resolve, options agree,
 * the dataflow is acyclic. A pure query: it reads the spec and returns diagnostics. `explicit` is the spec as
 * written, before defaults, so that "you set X, which contradicts Y" is only said of what the user set.
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
  }
  return out;
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


function article(what: string): string {
  return /^[aeiou]/i.test(what) ? `an ${what}` : `a ${what}`;
}
