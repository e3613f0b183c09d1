import { FEATURES, type Spec } from "../spec/types.js";
import type { Component } from "./context.js";

/** One `input:`, `pools:` or `always_on:` entry and what it names. */
export interface Reference {
  /** The component whose entry this is. */
  owner: string;
  path: string;
  name: string;
  /** Component kinds allowed at this place. */
  kinds: Component["kind"][];
  allowFeatures: boolean;
  /** The component it resolves to, or `features`; undefined when the name is unknown or of a wrong kind. */
  target?: Component | typeof FEATURES;
  /** A component of that name but of a kind not allowed here. */
  wrongKind?: Component;
}

/** The spec's component namespace with every reference resolved: the one place names are looked up. */
export interface ComponentNames {
  /** Every pool, gate, STAR layer and tower by name (the first declaration of a name). */
  components: Map<string, Component>;
  /** Declarations that reuse a taken name (`previous`) or the reserved `features`. */
  duplicates: { component: Component; previous?: Component }[];
  references: Reference[];
  /** Reference at a JSON path (e.g. `/gates/0/pools/1`). */
  at(path: string): Reference | undefined;
  /** A cycle of names through `input`/`pools`, if the dataflow has one. */
  cycle?: string[];
  /** Pools, gates and STAR layers nothing reads. */
  unused: Component[];
}

const INPUT_KINDS: Component["kind"][] = ["pool", "gate", "star"];

export function linkComponents(spec: Spec): ComponentNames {
  const components = new Map<string, Component>();
  const duplicates: ComponentNames["duplicates"] = [];
  const declared: Component[] = [
    ...spec.experts.map((p, i): Component => ({ kind: "pool", spec: p, path: `/experts/${i}` })),
    ...spec.gates.map((g, i): Component => ({ kind: "gate", spec: g, path: `/gates/${i}` })),
    ...spec.stars.map((s, i): Component => ({ kind: "star", spec: s, path: `/stars/${i}` })),
    ...spec.towers.map((t, i): Component => ({ kind: "tower", spec: t, path: `/towers/${i}` })),
  ];
  for (const c of declared) {
    if (c.spec.name === FEATURES || components.has(c.spec.name)) duplicates.push({ component: c, previous: components.get(c.spec.name) });
    else components.set(c.spec.name, c);
  }

  const references: Reference[] = [];
  const link = (owner: string, path: string, name: string, kinds: Component["kind"][], allowFeatures: boolean) => {
    const c = components.get(name);
    const ref: Reference = { owner, path, name, kinds, allowFeatures };
    if (allowFeatures && name === FEATURES) ref.target = FEATURES;
    else if (c && kinds.includes(c.kind)) ref.target = c;
    else if (c) ref.wrongKind = c;
    references.push(ref);
  };
  spec.experts.forEach((p, i) => link(p.name, `/experts/${i}/input`, p.input, INPUT_KINDS, true));
  spec.stars.forEach((s, i) => link(s.name, `/stars/${i}/input`, s.input, INPUT_KINDS, true));
  spec.towers.forEach((t, i) => link(t.name, `/towers/${i}/input`, t.input, INPUT_KINDS, true));
  spec.gates.forEach((g, i) => {
    g.pools.forEach((n, j) => link(g.name, `/gates/${i}/pools/${j}`, n, ["pool"], false));
    g.always_on.forEach((n, j) => link(g.name, `/gates/${i}/always_on/${j}`, n, ["pool"], false));
    link(g.name, `/gates/${i}/input`, g.input, INPUT_KINDS, true);
  });

  const byPath = new Map(references.map((r) => [r.path, r]));
  const read = new Set(references.flatMap((r) => (r.target && r.target !== FEATURES ? [r.target.spec.name] : [])));
  const unused = [...components.values()].filter((c) => c.kind !== "tower" && !read.has(c.spec.name));
  return { components, duplicates, references, at: (path) => byPath.get(path), cycle: findCycle(components, references), unused };
}

/** Edges point from a component to what it reads; a cycle is returned as a list of names. */
function findCycle(components: Map<string, Component>, references: Reference[]): string[] | undefined {
  const edges = new Map<string, string[]>([...components.keys()].map((n) => [n, []]));
  for (const r of references) if (r.target && r.target !== FEATURES) edges.get(r.owner)?.push(r.target.spec.name);
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "done") return undefined;
    if (state.get(n) === "visiting") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "visiting");
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
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
