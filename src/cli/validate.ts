import type { Command } from "commander";
import { Option } from "commander";
import { compileSpecFile } from "../spec/load.js";
import { expandFileArgs } from "./files.js";
import { plural, printDiagnostics, UsageError } from "./output.js";

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
      if (opts.emitJson && results[0].spec) process.stdout.write(JSON.stringify(results[0].spec, null, 2) + "\n");
      if (opts.format === "text") {
        process.stderr.write(`${plural(files.length, "spec")} checked: ${plural(errors, "error")}, ${plural(warnings, "warning")}\n`);
      }
      process.exitCode = errors > 0 || (opts.strict && warnings > 0) ? 1 : 0;
    });
}
