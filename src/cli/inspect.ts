import type { Command } from "commander";
import { costReport } from "../check/cost.js";
import { compileSpecFile } from "../spec/load.js";
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
      if (!compiled.spec) throw new UsageError(`${path} has errors; fix them first`, 1);
      const report = costReport(compiled.spec);
      if (opts.json) {
        process.stdout.write(JSON.stringify(snakeCase({ model: compiled.spec.model, ...report }), null, 2) + "\n");
        return;
      }
      const spec = compiled.spec;
      const lines = [
        `model ${spec.model}: ${spec.domain.values.length} domains, input width ${report.inputWidth}, ${fmt(report.denseParams)} dense parameters`,
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
      process.stdout.write(lines.join("\n") + "\n");
    });
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
