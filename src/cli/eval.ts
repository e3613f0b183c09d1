import type { Command } from "commander";
import { Option } from "commander";
import { loadModelFiles } from "../runtime/model-files.js";
import { evaluateFile } from "../runtime/scoring.js";
import { withRouterOutputs } from "../runtime/model-folder.js";
import { metricsTable, routerTables } from "./metrics-table.js";
import { positiveInt } from "./options.js";
import { isRetrievalFolder } from "../runtime/retrieval-folder.js";
import { evalRetrievalCommand } from "./retrieval.js";

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description("ranking: overall and per-domain AUC and logloss on a labelled file; retrieval: recall@K and NDCG@K of positive pairs against --items")
    .argument("<model>", "model directory (or its model.onnx)")
    .requiredOption("--data <file>", "labelled rows (ranking) or positive (query, item) pairs (retrieval)")
    .option("--items <file>", "retrieval: the item catalogue to retrieve from")
    .option("--index <dir>", "retrieval: an index from `mdr index` (default: one built in memory from --items)")
    .option("--json", "print the metrics as JSON")
    .addOption(new Option("--ep <provider>", "execution provider").choices(["cpu", "cuda"]).default("cpu"))
    .option("--threads <n>", "intra-op threads", positiveInt)
    .action(async (model: string, opts: { data: string; items?: string; index?: string; json?: boolean; ep: "cpu" | "cuda"; threads?: number }) => {
      if (isRetrievalFolder(model)) return evalRetrievalCommand(model, opts);
      const { modelPath, manifest } = loadModelFiles(model);
      const { session, manifest: scored, note } = await withRouterOutputs(modelPath, manifest, { ep: opts.ep, threads: opts.threads });
      const m = await evaluateFile(session, scored, manifest.spec, opts.data);
      if (opts.json) process.stdout.write(JSON.stringify(m, null, 2) + "\n");
      else process.stdout.write(`metrics of ${model} on ${opts.data}${m.skipped ? ` (${m.skipped} rows with undeclared domain values skipped)` : ""}:\n${metricsTable(m)}\n${routerTables(m.routers, manifest.spec.domain.values)}`);
      if (note) process.stderr.write(`${note}\n`);
    });
}
