import { basename, dirname } from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import type { CompiledRetrieval } from "../compiler/frontend.js";
import { compileRetrievalInference, compileRetrievalTrainStep } from "../compiler/retrieval.js";
import { writeFilesAtomic } from "../runtime/output.js";
import { CUTOFFS, embedRows } from "../runtime/retrieval-search.js";
import { evaluateRetrieval, type RetrievalEvaluation } from "../runtime/retrieval-eval.js";
import { readItemCatalog, readQueryRows, towerColumns } from "../runtime/retrieval-data.js";
import { loadRetrievalFolder, towerSession } from "../runtime/retrieval-folder.js";
import { buildIndex, readIndexFolder, searchIndex, writeIndexFolder } from "../runtime/retrieval-index.js";
import { trainRetrieval } from "../runtime/retrieval-train.js";
import { csvField } from "../runtime/predict.js";
import { positiveInt } from "./options.js";
import { UsageError } from "./output.js";
import type { ByteParts } from "../onnx/emit.js";
import { progressReporter } from "./progress.js";
import { textTable } from "./table.js";

/** `mdr compile` of a retrieval spec: both towers, the manifest, and (unless skipped) the train step. */
export function compileRetrievalFolder(c: CompiledRetrieval, out: string, opts: { opset: number; trainStep: boolean }): string[] {
  const { files, manifest } = compileRetrievalInference(c.spec, { opset: opts.opset });
  const all: Record<string, Uint8Array | ByteParts | string> = { ...files, "manifest.json": JSON.stringify(manifest, null, 2) + "\n" };
  if (opts.trainStep) all["train_step.onnx"] = compileRetrievalTrainStep(c.spec, { opset: opts.opset }).model;
  writeFilesAtomic(out, all);
  return Object.keys(all);
}

/** `mdr train` of a retrieval spec. */
export async function trainRetrievalCommand(c: CompiledRetrieval, opts: { data: string; valid?: string; out: string; epochs?: number; batchSize?: number; lr?: number; seed?: number; ep: "cpu" | "cuda"; threads?: number; evalEvery?: number; checkpointEvery?: number; resume?: boolean; overwrite?: boolean }): Promise<void> {
  if (opts.resume) throw new UsageError("--resume is not available for retrieval models yet; start the run again (or with --overwrite)");
  if (opts.evalEvery) throw new UsageError("--eval-every is not available for retrieval models yet; they are evaluated after each epoch");
  if (opts.checkpointEvery !== undefined) throw new UsageError("--checkpoint-every is not available for retrieval models yet; they are checkpointed after each epoch");
  const bar = progressReporter();
  const t0 = performance.now();
  const result = await trainRetrieval({
    spec: c.spec, train: opts.data, valid: opts.valid, out: opts.out, epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr, seed: opts.seed,
    ep: opts.ep, threads: opts.threads, overwrite: opts.overwrite, progress: bar.update, log: (l) => process.stderr.write(`${l}\n`),
  }).finally(bar.stop);
  process.stderr.write(`trained ${result.steps} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s (${Math.round(result.rowsPerSecond)} rows/s)\n`);
  if (result.best) process.stdout.write(`best model (epoch ${result.best.epoch}) on ${opts.valid}, exact search over the ${result.best.items} items of the training and validation pairs:\n${retrievalTable(result.best)}\n`);
  process.stderr.write(`wrote ${opts.out}/: query_model.onnx, item_model.onnx, manifest.json, run.json, ${opts.valid ? "metrics.jsonl, " : ""}checkpoints/\n`);
}

/** Recall and NDCG at 10/50/100, overall and per domain; through the index too when it was used. */
export function retrievalTable(e: RetrievalEvaluation): string {
  const f = (x: number) => (Number.isNaN(x) ? "–" : x.toFixed(4));
  const at = CUTOFFS.map((k) => `@${k}`);
  const rowsOf = (how: string, m: RetrievalEvaluation["exact"]) => [["all", m.overall] as const, ...Object.entries(m.domains)].map(([name, g]) => [
    `${name}${how}`, String(g.rows), ...at.map((k) => f(g.recall[k])), ...at.map((k) => f(g.ndcg[k])),
  ]);
  const header = ["domain", "rows", ...at.map((k) => `recall${k}`), ...at.map((k) => `ndcg${k}`)];
  const parts = [textTable(header, rowsOf(e.index ? " (exact)" : "", e.exact))];
  if (e.index) {
    parts.push(textTable(header, rowsOf(" (index)", e.index)));
    parts.push(`index recall against exact search: ${at.map((k) => `${k} ${f(e.index!.recall_vs_exact[k])}`).join(", ")}`);
  }
  if (e.unknown_items) parts.push(`${e.unknown_items} rows have a positive item missing from the catalogue (counted as misses)`);
  return parts.join("\n\n");
}

export async function evalRetrievalCommand(dir: string, opts: { data: string; items?: string; index?: string; json?: boolean; threads?: number }): Promise<void> {
  const m = loadRetrievalFolder(dir);
  if (!opts.items) throw new UsageError("evaluating a retrieval model needs --items <file>: the catalogue to retrieve from (item id and item columns)");
  const catalogue = await readItemCatalog(opts.items, m.item_id, towerColumns(m.item, "item"));
  const sessions = { query: await towerSession(dir, m, "query", { threads: opts.threads }), item: await towerSession(dir, m, "item", { threads: opts.threads }) };
  const index = opts.index ? await readIndexFolder(opts.index, m) : "build";
  const e = await evaluateRetrieval(sessions, m, opts.data, catalogue, { index, threads: opts.threads });
  if (opts.json) process.stdout.write(JSON.stringify(e, null, 2) + "\n");
  else process.stdout.write(`retrieval metrics of ${dir} on ${opts.data}, ${e.items} items (${opts.index ? `index ${opts.index}` : "an index built in memory"}):\n${retrievalTable(e)}\n`);
}

export function registerIndex(program: Command): void {
  program
    .command("index")
    .description("embed every item of a file with a retrieval model's item tower; write an HNSW index and items.parquet (item_id, vector)")
    .argument("<model>", "retrieval model directory")
    .requiredOption("--items <file>", "item rows: the item id column and the item tower's columns")
    .requiredOption("-o, --out <dir>", "index directory")
    .option("--threads <n>", "threads", positiveInt)
    .action(async (dir: string, opts: { items: string; out: string; threads?: number }) => {
      const m = loadRetrievalFolder(dir);
      const catalogue = await readItemCatalog(opts.items, m.item_id, towerColumns(m.item, "item"));
      const session = await towerSession(dir, m, "item", { threads: opts.threads });
      const vectors = await embedRows(session, m.item, catalogue.rows, opts.items);
      writeIndexFolder(opts.out, m, catalogue.ids, vectors, buildIndex(vectors, m.embedding.dim, opts.threads));
      process.stderr.write(`indexed ${catalogue.ids.length} items → ${opts.out}/: index.usearch, items.parquet, index.json\n`);
    });
}

export function registerRetrieve(program: Command): void {
  program
    .command("retrieve")
    .description("top-K items per query row through an index: query columns in, item ids and scores out")
    .argument("<model>", "retrieval model directory")
    .requiredOption("--index <dir>", "index directory written by `mdr index` for this model")
    .requiredOption("--data <file>", "query rows: the query tower's columns and the domain")
    .requiredOption("-o, --out <file>", "output CSV: row (the query's line in --data), rank, item id, score (q · v)")
    .addOption(new Option("-k <n>", "items per query").argParser(positiveInt).default(100))
    .option("--threads <n>", "threads", positiveInt)
    .action(async (dir: string, opts: { index: string; data: string; out: string; k: number; threads?: number }) => {
      const m = loadRetrievalFolder(dir);
      const index = await readIndexFolder(opts.index, m);
      const queries = await readQueryRows(opts.data, m.query);
      const session = await towerSession(dir, m, "query", { threads: opts.threads });
      const top = searchIndex(index.index, await embedRows(session, m.query, queries.rows, opts.data), m.embedding.dim, opts.k, opts.threads);
      const lines = [`row,rank,${csvField(m.item_id)},score`];
      queries.rows.forEach((row, i) => {
        for (let j = 0; j < top.k && top.ids[i * top.k + j] >= 0; j++) lines.push(`${row.line},${j + 1},${csvField(index.ids[top.ids[i * top.k + j]])},${top.scores[i * top.k + j]}`);
      });
      writeFilesAtomic(dirname(opts.out), { [basename(opts.out)]: lines.join("\n") + "\n" });
      process.stderr.write(`retrieved ${top.k} items for each of ${queries.rows.length} queries → ${opts.out}${queries.skipped ? ` (${queries.skipped} rows with undeclared domain values skipped)` : ""}\n`);
    });
}
