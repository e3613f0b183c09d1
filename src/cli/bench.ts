import type { Command } from "commander";
import { InvalidArgumentError, Option } from "commander";
import { compileSpecFile } from "../compiler/frontend.js";
import { benchInference, benchTrainStep, type BenchResult } from "../runtime/benchmark.js";
import { printDiagnostics, UsageError } from "./output.js";
import { textTable } from "./table.js";

function positiveList(value: string): number[] {
  const xs = value.split(",").map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new InvalidArgumentError("must be positive whole numbers separated by commas, e.g. 1,512,4096");
  return xs;
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("what a spec costs on this machine: rows/s and latency of the compiled model (and train step) on synthetic rows")
    .argument("<spec>", "a .mdr or .json spec")
    .option("--train", "also measure the training step (the step graph and the write-back of its rows, on batches encoded beforehand as training's batch worker does)")
    .option("--batch-size <n,…>", "batch sizes", positiveList, [1, 512, 4096])
    .option("--threads <n,…>", "intra-op thread counts", positiveList, [1])
    .addOption(new Option("--dispatch <mode>", "top-k gate dispatch (default: the spec's)").choices(["sparse", "dense"]))
    .addOption(new Option("--ep <provider>", "execution provider").choices(["cpu", "cuda"]).default("cpu"))
    .option("--seconds <x>", "measuring time per configuration", (v: string) => {
      const x = Number(v);
      if (!(x > 0) || x > 600) throw new InvalidArgumentError("must be a number of seconds in (0, 600]");
      return x;
    }, 1)
    .option("--json", "print the results as JSON")
    .action(async (path: string, o: { train?: boolean; batchSize: number[]; threads: number[]; dispatch?: "sparse" | "dense"; ep: "cpu" | "cuda"; seconds: number; json?: boolean }) => {
      const compiled = compileSpecFile(path);
      printDiagnostics([{ file: path, diagnostics: compiled.diagnostics }], "text");
      if (compiled.retrieval) throw new UsageError(`${path} is a retrieval model; \`mdr bench\` measures ranking models only so far`, 2);
      if (!compiled.spec) throw new UsageError(`${path} has errors; fix them first`, 1);
      const spec = compiled.spec;
      const results: BenchResult[] = [];
      const options = { dispatch: o.dispatch, ep: o.ep, seconds: o.seconds };
      for (const threads of o.threads) {
        for (const batch of o.batchSize) {
          results.push(await benchInference(spec, batch, threads, options));
          if (o.train) results.push(await benchTrainStep(spec, batch, threads, { ...options, seconds: 2 * o.seconds }));
          if (!o.json) process.stderr.write(".");
        }
      }
      if (!o.json) process.stderr.write("\n");
      if (o.json) {
        process.stdout.write(JSON.stringify({ model: spec.model, results }, null, 2) + "\n");
        return;
      }
      process.stdout.write(`${spec.model} on synthetic rows (${o.ep}${o.dispatch ? `, ${o.dispatch} dispatch` : ""}):\n`);
      process.stdout.write(textTable(
        ["what", "threads", "batch", "rows/s", "ms per run", "MACs/row", "GFLOP/s"],
        results.map((r) => [r.what, String(r.threads), String(r.batch), r.rows_per_s.toLocaleString("en-US"), r.ms.toFixed(3), r.macs_per_row.toLocaleString("en-US"), r.gflops.toFixed(2)]),
      ) + "\n");
      process.stdout.write("MACs/row: what `mdr inspect` counts one row activating (a train step: about 3 × the forward pass); GFLOP/s = 2 × MACs × rows/s.\n");
    });
}
