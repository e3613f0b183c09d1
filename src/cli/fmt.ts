import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { hasErrors } from "../diagnostics/diagnostic.js";
import { formatDocument } from "../format/fmt.js";
import { readSpecFile } from "../compiler/frontend.js";
import { parse } from "../syntax/parse.js";
import { expandFileArgs, writeFileAtomic } from "./files.js";
import { printDiagnostics, UsageError } from "./output.js";

export function registerFmt(program: Command): void {
  program
    .command("fmt")
    .description("print .mdr files in canonical layout (comments kept)")
    .argument("<files...>", "spec files or globs")
    .option("--check", "exit 1 when a file is not formatted; change nothing")
    .option("--write", "rewrite files in place")
    .action((patterns: string[], opts: { check?: boolean; write?: boolean }) => {
      if (opts.check && opts.write) throw new UsageError("--check and --write exclude each other");
      const files = expandFileArgs(patterns);
      let failed = false;
      let unformatted = 0;
      for (const path of files) {
        if (path.toLowerCase().endsWith(".json")) throw new UsageError(`${path}: mdr fmt formats .mdr files; JSON specs keep their own layout`);
        const file = readSpecFile(path);
        const parsed = parse(file);
        if (hasErrors(parsed.diagnostics)) {
          // Recovery may have dropped text: never format (or rewrite) a file that did not parse.
          printDiagnostics([{ file: path, diagnostics: parsed.diagnostics }], "text");
          failed = true;
          continue;
        }
        const formatted = formatDocument(parsed.document);
        const original = readFileSync(path, "utf8");
        if (opts.check) {
          if (formatted !== original) {
            process.stdout.write(`${path}\n`);
            unformatted++;
          }
        } else if (opts.write) {
          if (formatted !== original) writeFileAtomic(path, formatted);
        } else {
          process.stdout.write(formatted);
        }
      }
      if (opts.check && unformatted > 0) process.stderr.write(`${unformatted} file${unformatted === 1 ? "" : "s"} would be reformatted (run mdr fmt --write)\n`);
      process.exitCode = failed || unformatted > 0 ? 1 : 0;
    });
}
