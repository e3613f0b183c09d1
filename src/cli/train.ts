import type { Command } from "commander";
import { Option } from "commander";
import { statSync } from "node:fs";
import { compileSpecFile } from "../compiler/frontend.js";
import { train } from "../runtime/trainer.js";
import { metricsTable, routerTables } from "./metrics-table.js";
import { positiveInt } from "./options.js";
import { printDiagnostics, UsageError } from "./output.js";
import { progressReporter } from "./progress.js";
import { trainRetrievalCommand } from "./retrieval.js";

function wholeNumber(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number ≥ 0, got '${v}'`);
    return n;
  };
}

export function registerTrain(program: Command): void {
  program
    .command("train")
    .description("train a spec on a CSV, JSON Lines or Parquet file; writes the best model, metrics and checkpoints")
    .argument("<spec>", "a .mdr or .json spec")
    .requiredOption("--data <file>", "training rows")
    .option("--valid <file>", "validation rows, evaluated after every epoch")
    .requiredOption("-o, --out <dir>", "output directory")
    .option("--epochs <n>", "epochs (default: the spec's)", positiveInt)
    .option("--batch-size <n>", "rows per step (default: the spec's)", positiveInt)
    .option("--lr <x>", "learning rate (default: the spec's)", (v: string) => {
      const x = Number(v);
      if (!(x > 0) || !Number.isFinite(x)) throw new UsageError("--lr must be a positive finite number");
      return x;
    })
    .option("--seed <n>", "seed (default: the spec's)", wholeNumber("--seed"))
    .addOption(new Option("--ep <provider>", "execution provider").choices(["cpu", "cuda"]).default("cpu"))
    .option("--threads <n>", "intra-op threads of each step (default: one fewer than the CPU cores; the batch worker takes one)", positiveInt)
    .option("--eval-every <n>", "also evaluate every n steps", positiveInt)
    .option("--checkpoint-every <n>", "also save a checkpoint every n steps (default: the spec's; 0: epoch ends only)", wholeNumber("--checkpoint-every"))
    .option("--resume", "continue the run in the output folder from its last readable checkpoint")
    .option("--overwrite", "replace the run in the output folder (only the files a run writes are removed)")
    .action(async (path: string, opts: { data: string; valid?: string; out: string; epochs?: number; batchSize?: number; lr?: number; seed?: number; ep: "cpu" | "cuda"; threads?: number; evalEvery?: number; checkpointEvery?: number; resume?: boolean; overwrite?: boolean }) => {
      for (const [flag, file] of [["--data", opts.data], ["--valid", opts.valid]]) {
        const why = "training reads its files more than once (a checking pass, then every epoch)";
        if (file === "-") throw new UsageError(`${flag} -: ${why}, so it cannot read standard input; give a file`);
        if (file && isPipe(file)) throw new UsageError(`${flag} ${file}: ${why}, so it cannot read a pipe; give a file`);
      }
      const compiled = compileSpecFile(path);
      printDiagnostics([{ file: path, diagnostics: compiled.diagnostics }], "text");
      if (compiled.retrieval) return trainRetrievalCommand(compiled.retrieval, opts);
      if (!compiled.spec) throw new UsageError(`${path} has errors; nothing was trained`, 1);
      const bar = progressReporter();
      const t0 = performance.now();
      const result = await train({
        spec: compiled.spec, train: opts.data, valid: opts.valid, out: opts.out, epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr,
        seed: opts.seed, ep: opts.ep, threads: opts.threads, resume: opts.resume, overwrite: opts.overwrite, evalEvery: opts.evalEvery, checkpointEvery: opts.checkpointEvery,
        progress: bar.update, log: (l) => process.stderr.write(`${l}\n`),
      }).finally(bar.stop);
      const s = (performance.now() - t0) / 1000;
      process.stderr.write(`trained ${result.steps} steps in ${s.toFixed(1)} s (${Math.round(result.rowsPerSecond)} rows/s, ${(result.ortShare * 100).toFixed(0)}% inside ONNX Runtime)${result.skippedRows ? `; skipped ${result.skippedRows} rows with undeclared domain values per epoch` : ""}\n`);
      if (result.best) {
        process.stdout.write(`best model (epoch ${result.best.epoch}) on ${opts.valid}:\n${metricsTable(result.best)}\n${routerTables(result.best.routers, compiled.spec.domain.values)}`);
      }
      process.stderr.write(`wrote ${opts.out}/: model.onnx, manifest.json, run.json, ${opts.valid ? "metrics.jsonl, " : ""}train_log.jsonl, checkpoints/ (\`mdr report ${opts.out}\` draws them)\n`);
    });
}

/** A named pipe (or socket) gives its bytes once. Anything else, including a missing file, is left to the readers' own errors. */
function isPipe(file: string): boolean {
  const stat = statSync(file, { throwIfNoEntry: false });
  return !!stat && (stat.isFIFO() || stat.isSocket());
}
