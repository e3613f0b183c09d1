import type { Command } from "commander";
import { Option } from "commander";
import { predict } from "../runtime/predict.js";
import { positiveInt } from "./options.js";

export function registerPredict(program: Command): void {
  program
    .command("predict")
    .description("score a CSV, JSON Lines or Parquet file with a compiled model")
    .argument("<model>", "model directory (or its model.onnx)")
    .requiredOption("--data <file>", "input rows: .csv, .jsonl/.ndjson or .parquet")
    .requiredOption("-o, --out <file>", "output CSV: the kept columns and one probability per row")
    .addOption(new Option("--ep <provider>", "execution provider").choices(["cpu", "cuda"]).default("cpu"))
    .option("--batch-size <n>", "rows per run", positiveInt, 4096)
    .option("--threads <n>", "intra-op threads", positiveInt)
    .option("--debug-outputs", "also write each gate's router probabilities (<gate>.p0…) and selected experts (<gate>.choice1…)")
    .option("--keep <columns>", "comma-separated columns to copy to the output (ids)", (v: string) => v.split(",").map((s) => s.trim()).filter(Boolean))
    .action(async (model: string, opts: { data: string; out: string; ep: "cpu" | "cuda"; batchSize: number; threads?: number; keep?: string[]; debugOutputs?: boolean }) => {
      const t0 = performance.now();
      const r = await predict({ model, data: opts.data, out: opts.out, ep: opts.ep, batchSize: opts.batchSize, threads: opts.threads, keep: opts.keep, debugOutputs: opts.debugOutputs });
      const s = (performance.now() - t0) / 1000;
      process.stderr.write(`scored ${r.rows} rows in ${s.toFixed(2)} s → ${opts.out}${r.skipped ? `; skipped ${r.skipped} rows with undeclared domain values` : ""}\n`);
    });
}
