import type { Diagnostic } from "../diagnostics/diagnostic.js";
import { sideSpec } from "../spec/retrieval.js";
import type { SourceMap } from "../spec/source-map.js";
import { SIDES, type RetrievalSpec, type Side, type Spec } from "../spec/types.js";
import { checkBody, checkMetric, checkWidths } from "./checker.js";
import { reportInto, wasSetIn, type Report, type WasSet } from "./context.js";
import { checkDomain, checkLoss, checkTrain } from "./sections.js";

type Raw = Record<string, unknown>;

/**
 * The rules of a retrieval spec: each tower is checked like a ranking model's body (paths under `/query`
 * or `/item`), then what only two towers can get wrong: wiring from one tower into the other, a name or a
 * column claimed by both, and domain-dependent parts in the item tower, which has no domain.
 */
export function checkRetrievalSpec(r: RetrievalSpec, explicit: Raw, sourceMap: SourceMap): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reportInto(out, sourceMap);
  const wasSet = wasSetIn(explicit);
  const under = (side: Side): [Report, WasSet] => [(name, path, init, at) => report(name, `/${side}${path}`, init, at), (path) => wasSet(`/${side}${path}`)];
  const views = { query: sideSpec(r, "query"), item: sideSpec(r, "item") };

  checkDomain(views.query, report, wasSet);
  for (const side of SIDES) {
    const other = side === "query" ? "item" : "query";
    const names = componentNames(views[other]);
    checkBody(views[side], ...under(side), (name) => (names.has(name) ? `a component of the ${other} tower` : undefined));
  }
  checkItemHasNoDomain(views.item, under("item")[0]);
  checkShared(r, report);
  checkLoss({ ...views.query, loss: { ...views.query.loss, bce: r.loss.softmax } }, report, wasSet, "softmax");
  checkTrain(views.query, report, wasSet);
  checkMetric(r.train.early_stopping.metric, "retrieval", report);
  if (!out.some((d) => d.severity === "error")) for (const side of SIDES) checkWidths(views[side], under(side)[0]);
  return out;
}

function componentNames(s: Spec): Set<string> {
  return new Set([...s.experts, ...s.gates, ...s.stars, ...s.towers].map((c) => c.name));
}

/** The item model embeds an item without knowing which domain will ask for it. */
function checkItemHasNoDomain(item: Spec, report: Report): void {
  const hint = "The item tower has no domain input: items are embedded once for every domain. Condition on the domain in the query tower.";
  item.experts.forEach((p, i) => {
    if (p.scope === "per_domain") report("contradictory-options", `/experts/${i}/scope`, { message: `Expert pool '${p.name}' has one copy per domain, in the item tower.`, hint });
  });
  item.gates.forEach((g, i) => {
    if (g.per === "domain") report("contradictory-options", `/gates/${i}/per`, { message: `Gate '${g.name}' is per domain, in the item tower.`, hint });
    else if (g.inputs.includes("domain")) report("contradictory-options", `/gates/${i}/inputs`, { message: `Gate '${g.name}' reads the domain, in the item tower.`, hint });
  });
  item.stars.forEach((s, i) => report("contradictory-options", `/stars/${i}/name`, { message: `STAR layer '${s.name}' is per domain by construction, in the item tower.`, hint }));
  item.towers.forEach((t, i) => {
    if (t.per === "domain") report("contradictory-options", `/towers/${i}/per`, { message: `Tower '${t.name}' is per domain, in the item tower.`, hint: "Write `per: shared`. " + hint });
  });
}

/** Feature names, component names and data columns each belong to one tower; the item id is not the domain. */
function checkShared(r: RetrievalSpec, report: Report): void {
  const seen = new Map<string, string>();
  const columns = new Map<string, string>();
  for (const side of SIDES) {
    const s = r[side];
    s.features.forEach((f, i) => {
      const path = `/${side}/features/${i}`;
      const prev = seen.get(f.name);
      if (prev && prev !== side) report("duplicate-name", `${path}/name`, { message: `'${f.name}' is already a name in the ${prev} tower.`, hint: "Names are model-wide: give this feature another name." });
      seen.set(f.name, side);
      const owner = columns.get(f.column);
      if (owner && owner !== side) {
        report("contradictory-options", `${path}/column`, {
          message: `Column '${f.column}' is read by both towers.`,
          hint: "A column describes either the query or the item; if both need it, copy it into a second column.",
        });
      }
      columns.set(f.column, side);
    });
    for (const [key, list] of [["experts", s.experts], ["gates", s.gates], ["stars", s.stars], ["towers", s.towers]] as const) {
      list.forEach((c, i) => {
        const prev = seen.get(c.name);
        if (prev && prev !== side) report("duplicate-name", `/${side}/${key}/${i}/name`, { message: `'${c.name}' is already a name in the ${prev} tower.`, hint: "Names are model-wide: name it after its tower, e.g. `query_mlp` / `item_mlp`." });
        seen.set(c.name, side);
      });
    }
  }
  if (r.item.id === r.domain.column) {
    report("contradictory-options", "/item/id", { message: `The item id column '${r.item.id}' is the domain column.`, hint: "Name the column that identifies each item." });
  }
  if (columns.get(r.domain.column) === "item") {
    report("contradictory-options", "/domain/column", { message: `The domain column '${r.domain.column}' is an item feature.`, hint: "The domain is known at query time; read it in the query tower only." });
  }
}
