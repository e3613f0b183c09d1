import type { Command } from "commander";
import { costReport } from "../plan/cost.js";
import type { ModelPlan } from "../plan/plan.js";
import { compileSpecFile } from "../compiler/frontend.js";
import { printDiagnostics, UsageError } from "./output.js";
import { textTable } from "./table.js";

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("per-domain parameters and multiply-adds a row activates, against the dense total")
    .argument("<spec>", "a .mdr or .json spec")
    .option("--json", "print the report as JSON")
    .action((path: string, opts: { json?: boolean }) => {
      const compiled = compileSpecFile(path);
      printDiagnostics([{ file: path, diagnostics: compiled.diagnostics }], "text");
      if (compiled.retrieval) {
        // Each tower on its own, as the ranking model it is built like (its tower ends in the embedding).
        const sides = compiled.retrieval.sides;
        if (opts.json) {
          const tower = (plan: ModelPlan) => ({ ...costReport(plan), plan: planRows(plan) });
          process.stdout.write(JSON.stringify(snakeCase({ model: compiled.retrieval.spec.model, query: tower(sides.query.plan), item: tower(sides.item.plan) }), null, 2) + "\n");
        } else {
          process.stdout.write(`${textReport(sides.query.plan, "query tower of ")}\n\n${textReport(sides.item.plan, "item tower of ")}\n`);
        }
        return;
      }
      if (!compiled.spec) throw new UsageError(`${path} has errors; fix them first`, 1);
      const plan = compiled.plan!;
      if (opts.json) {
        process.stdout.write(JSON.stringify(snakeCase({ model: compiled.spec.model, ...costReport(plan), plan: planRows(plan) }), null, 2) + "\n");
        return;
      }
      process.stdout.write(textReport(plan) + "\n");
    });
}

/** The plan and per-domain cost of one model (or one retrieval tower) as text. */
function textReport(plan: ModelPlan, what = ""): string {
  const report = costReport(plan);
  const spec = plan.spec;
  const lines = [
    `${what}model ${spec.model}: ${spec.domain.values.length} domains, input width ${report.inputWidth}, ${fmt(report.denseParams)} dense parameters`,
    "",
    "plan (in build order):",
    ...planRows(plan).map((r) => `  ${`${r.kind} ${r.name}`.padEnd(24)} ${r.runs}`),
    "",
    "embedding tables:",
    ...report.tables.map((t) => `  ${t.feature.padEnd(20)} ${t.rows === undefined ? "learned vocabulary" : `${fmt(t.rows)} rows`} × ${t.dim}`),
    "",
    textTable(
      ["domain", "active params", "active MACs/row", "dense MACs/row", "dense / active"],
      report.domains.map((d) => [d.domain, fmt(d.activatedParams), fmt(d.activatedMacs), fmt(d.denseMacs), `${(d.denseMacs / d.activatedMacs).toFixed(2)}×`]),
    ),
    "",
    "active = what one row of the domain runs (always-on experts, k routed experts in expectation, its gate and tower);",
    "dense = the same model with every gated expert run for every row.",
  ];
  return lines.join("\n");
}

/** What runs how: each component of the plan in build order, then the tower. */
function planRows(plan: ModelPlan): { kind: string; name: string; runs: string }[] {
  const rows = plan.order.map((c) => {
    if (c.kind === "pool") {
      const alwaysOn = plan.order.some((g) => g.kind === "gate" && g.alwaysOn.includes(c));
      const how = c.allRows ? "every expert on every row (some reader needs all of them)" : alwaysOn ? "always on: every row, one expert at a time" : "only on the rows routed to each expert";
      return { kind: "pool", name: c.name, runs: `${c.copies} expert${c.copies === 1 ? "" : "s"} ${c.spec.layers.join("→")}, ${how}` };
    }
    if (c.kind === "gate") {
      const what = c.spec.type === "topk" ? `top-${c.spec.k} of ${c.choices}` : `softmax over ${c.choices}`;
      const always = c.alwaysOn.length ? ` + always-on ${c.alwaysOn.map((p) => p.name).join(", ")} (${c.alwaysOnStacked ? "stacked" : "one by one"})` : "";
      return { kind: "gate", name: c.name, runs: `${what} (${c.spec.per === "domain" ? "one gate per domain" : "one router"}), ${c.dispatch} dispatch${always}` };
    }
    return { kind: "star", name: c.name, runs: `${c.spec.layers.join("→")} per domain, ${c.strategy === "all-rows" ? "every copy on every row, own copy selected" : "rows dispatched to their domain's copy"}` };
  });
  const t = plan.tower;
  const tower = t.strategy === "shared" ? "one shared tower" : t.strategy === "all-rows" ? "per domain: every copy on every row, own copy selected" : "per domain: rows dispatched to their domain's copy";
  return [...rows, { kind: "tower", name: t.name, runs: tower }];
}

/** JSON output keys in snake_case, like the spec, manifest and metrics files. */
function snakeCase(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeCase);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeCase(x)]));
  return v;
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}
