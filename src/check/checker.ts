import type { Diagnostic } from "../diagnostics/diagnostic.js";
import { didYouMean } from "../diagnostics/suggest.js";
import type { SourceMap } from "../spec/source-map.js";
import { FEATURES, type Spec } from "../spec/types.js";
import { reportInto, wasSetIn, type Report, type WasSet } from "./context.js";
import { linkComponents, type ComponentNames } from "./names.js";
import { checkGate } from "./gates.js";
import { checkDomain, checkFeatures, checkLoss, checkTrain } from "./sections.js";
import { componentWidths } from "./widths.js";

type Raw = Record<string, unknown>;

/**
 * Semantic rules over a schema-valid spec with its derived defaults filled: names resolve, options agree,
 * the dataflow is acyclic. A pure query: it reads the spec and returns diagnostics. `explicit` is the spec as
 * written, before defaults, so that "you set X, which contradicts Y" is only said of what the user set.
 */
export { checkWidths };

export function checkSpec(spec: Spec, explicit: Raw, sourceMap: SourceMap): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reportInto(out, sourceMap);
  const wasSet = wasSetIn(explicit);

  checkDomain(spec, report, wasSet);
  checkBody(spec, report, wasSet);
  checkLoss(spec, report, wasSet);
  checkTrain(spec, report, wasSet);
  checkMetric(spec.train.early_stopping.metric, "ranking", report);
  if (!out.some((d) => d.severity === "error")) {
    checkWidths(spec, report);
  }
  return out;
}

/** Fields and components: what a ranking model and each tower of a retrieval model hold. */
export function checkBody(spec: Spec, report: Report, wasSet: WasSet, elsewhere?: Elsewhere): void {
  checkFeatures(spec, report, wasSet);
  const names = linkComponents(spec);
  reportNames(names, report, elsewhere);
  spec.gates.forEach((g, i) => checkGate(spec, g, `/gates/${i}`, names, report, wasSet));
  if (spec.towers.length !== 1) {
    report("missing-tower", spec.towers.length === 0 ? "/towers" : "/towers/1/name", {
      message: spec.towers.length === 0 ? "The model has no tower." : "A model has exactly one tower; this is a second.",
      hint: spec.towers.length === 0 ? "Add `tower { input: <gate>, layers: [32] }`." : "Use `per: domain` for a tower per domain.",
    });
  }
}

/** For a name this side does not know: the other side's component of that name, if any. */
export type Elsewhere = (name: string) => string | undefined;

const METRICS = {
  ranking: ["auc", "mean_domain_auc", "logloss"],
  retrieval: ["recall_at_10", "recall_at_50", "recall_at_100"],
};

export function checkMetric(metric: string, task: "ranking" | "retrieval", report: Report): void {
  if (METRICS[task].includes(metric)) return;
  report("invalid-value", "/train/early_stopping/metric", {
    message: `'${metric}' is a ${task === "ranking" ? "retrieval" : "ranking"} metric; this is a ${task} model.`,
    hint: `Use one of ${METRICS[task].join(", ")}.`,
  });
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

/** Duplicate names, unresolved references, a cycle and components nothing reads. */
function reportNames(names: ComponentNames, report: Report, elsewhere?: Elsewhere): void {
  for (const { component: c, previous } of names.duplicates) {
    report("duplicate-name", `${c.path}/name`, previous
      ? { message: `'${c.spec.name}' is already the name of a ${previous.kind}.`, hint: "Give every pool, gate, STAR layer and tower its own name." }
      : { message: `'${FEATURES}' is reserved for the model input.`, hint: "Choose another name." });
  }
  for (const r of names.references) {
    if (r.target) continue;
    const other = r.wrongKind ? undefined : elsewhere?.(r.name);
    if (other) {
      report("unknown-reference", r.path, { message: `'${r.name}' is ${other}: one tower cannot read the other's components.`, hint: "The towers meet only in the score; give this tower its own component." });
      continue;
    }
    const candidates = [...names.components.values()].filter((x) => r.kinds.includes(x.kind)).map((x) => x.spec.name);
    if (r.allowFeatures) candidates.push(FEATURES);
    const what = r.kinds.length === 1 ? ({ pool: "expert pool", gate: "gate", star: "STAR layer", tower: "tower" }[r.kinds[0]]) : "component";
    report("unknown-reference", r.path, {
      message: r.wrongKind ? `'${r.name}' is a ${r.wrongKind.kind}, not ${article(what)}.` : `There is no ${what} named '${r.name}'.`,
      hint: didYouMean(r.name, candidates) ?? (candidates.length ? `Known: ${candidates.join(", ")}.` : `Declare it first.`),
    });
  }
  if (names.cycle) {
    report("cycle", `${names.components.get(names.cycle[0])!.path}/name`, {
      message: `Inputs form a cycle: ${names.cycle.join(" → ")}.`,
      hint: "Every component must read only from components closer to the features.",
    });
  }
  for (const c of names.unused) {
    if (c.kind === "pool") {
      report("unused-pool", `${c.path}/name`, { message: `No gate, tower or layer uses the pool '${c.spec.name}'.`, hint: "Mix it in a gate's `pools`, or remove it." });
    } else {
      report("unused-gate", `${c.path}/name`, { message: `Nothing reads the output of ${c.kind} '${c.spec.name}'.`, hint: "Name it as some component's `input`, or remove it." });
    }
  }
}

function article(what: string): string {
  return /^[aeiou]/i.test(what) ? `an ${what}` : `a ${what}`;
}
