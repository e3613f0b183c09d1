import { existsSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import { UserError } from "../diagnostics/errors.js";
import { reportHtml } from "../report/html.js";
import { readRun } from "../report/run-data.js";
import { writeFilesAtomic } from "../runtime/output.js";

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("write a self-contained HTML page of one or more training runs: curves, per-domain metrics, expert usage")
    .argument("<runs...>", "run folders written by `mdr train`")
    .option("-o, --out <file>", "the page (default: <run>/report.html for one run, report.html for several)")
    .action((folders: string[], o: { out?: string }) => {
      const runs = folders.map(readRun);
      const out = o.out ?? (folders.length === 1 ? join(folders[0], "report.html") : "report.html");
      if (out === "-") throw new UserError("-o - is not supported: the report is a file to open in a browser; name it");
      if (existsSync(out) && statSync(out).isDirectory()) throw new UserError(`-o ${out} is a folder; name the page, e.g. ${join(out, "report.html")}`);
      writeFilesAtomic(dirname(out), { [basename(out)]: reportHtml(runs) });
      process.stderr.write(`wrote ${out} (${runs.length} run${runs.length === 1 ? "" : "s"}); open it in a browser\n`);
    });
}
