import type { Command } from "commander";
import { Option } from "commander";
import type { ModelPlan } from "../plan/plan.js";
import { fmt, gib, modelSize } from "../plan/size.js";
import { compileSpecFile } from "../compiler/frontend.js";
import { expandFileArgs } from "./files.js";
import { plural, printDiagnostics, UsageError } from "./output.js";

/** What the model would cost: parameters and the memory of training them. */
function sizeLine(plan: ModelPlan): string {
  const spec = plan.spec;
  const size = modelSize(plan);
  const learned = size.learnedTables ? ` + ${plural(size.learnedTables, "table")} sized by the training data` : "";
  return `model ${spec.model}, ${fmt(size.values)} parameters${learned}; ${gib(size.values * 4)} of weights, ${gib(size.trainingBytes)} to train with ${spec.train.optimizer}`;
}

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("check .mdr or .json specs and print every diagnostic")
    .argument("<files...>", "spec files or globs")
    .addOption(new Option("--format <format>", "diagnostic format").choices(["text", "json", "github"]).default("text"))
    .option("--strict", "warnings fail too")
    .option("--emit-json", "print the canonical spec JSON (one file) to stdout")
    .action((patterns: string[], opts: { format: "text" | "json" | "github"; strict?: boolean; emitJson?: boolean }) => {
      const files = expandFileArgs(patterns);
      if (opts.emitJson && (files.length !== 1 || opts.format === "json")) {
        throw new UsageError("--emit-json takes exactly one file and text or github diagnostics");
      }
      const results = files.map((file) => ({ ...compileSpecFile(file), file }));
      const { errors, warnings } = printDiagnostics(results, opts.format);
      const canonical = results[0].spec ?? results[0].retrieval?.spec;
      if (opts.emitJson && canonical) process.stdout.write(JSON.stringify(canonical, null, 2) + "\n");
      if (opts.format === "text") {
        // The summary is the command's result: stdout, unless stdout carries the canonical JSON.
        const out = opts.emitJson ? process.stderr : process.stdout;
        for (const r of results) if (r.plan) out.write(`${r.file}: ${sizeLine(r.plan)}\n`);
        for (const r of results) if (r.retrieval) out.write(`${r.file}: query tower ${sizeLine(r.retrieval.sides.query.plan)}; item tower ${sizeLine(r.retrieval.sides.item.plan)}\n`);
        out.write(`${plural(files.length, "spec")} checked: ${plural(errors, "error")}, ${plural(warnings, "warning")}\n`);
      }
      process.exitCode = errors > 0 || (opts.strict && warnings > 0) ? 1 : 0;
    });
}
