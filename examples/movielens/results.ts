/**
 * Reproduces the README's MovieLens table: trains the five example architectures on the time split,
 * evaluates each best model on the test split, and scores a popularity baseline (a movie's number of
 * training ratings) the same way.
 *
 *   npm run movielens:results
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { createSourceFile } from "../../src/diagnostics/source.js";
import { compileSpecSource } from "../../src/compiler/frontend.js";
import { evaluate, type EvaluationMetrics } from "../../src/runtime/metrics.js";
import { loadModelFiles } from "../../src/runtime/model-files.js";
import { openRows } from "../../src/runtime/readers.js";
import { labelRow } from "../../src/runtime/rows.js";
import { evaluateFile } from "../../src/runtime/scoring.js";
import { train } from "../../src/runtime/trainer.js";
import { prepareMovieLens } from "./prepare.js";

const here = new URL("../../../examples/movielens/", import.meta.url).pathname;
const root = new URL("../../../", import.meta.url).pathname;
const data = join(here, "data");
const architectures = ["shared_bottom", "mmoe", "ple", "star", "cesaa"];

async function popularity(spec: Parameters<typeof labelRow>[0], file: string): Promise<EvaluationMetrics> {
  const p: number[] = [];
  const y: number[] = [];
  const d: number[] = [];
  const source = openRows(file);
  for await (const row of source.rows()) {
    const r = labelRow(spec, row, file)!;
    p.push(Number(row.values.movie_count));
    y.push(r.label);
    d.push(r.domain);
  }
  return evaluate(p, y, d, spec.domain.values);
}

const sizes = prepareMovieLens(data);
const rows: { name: string; test: EvaluationMetrics; seconds?: number; rowsPerSecond?: number; ortShare?: number }[] = [];
let domains: string[] = [];
let baselineSpec;
for (const name of architectures) {
  const path = join(here, `${name}.mdr`);
  const spec = compileSpecSource(createSourceFile(path, readFileSync(path, "utf8"))).spec!;
  baselineSpec ??= spec;
  domains = spec.domain.values;
  const out = join(root, "runs", name);
  const t0 = performance.now();
  const result = await train({ spec, train: join(data, "train.csv"), valid: join(data, "valid.csv"), out, overwrite: true, threads: 1 });
  const seconds = (performance.now() - t0) / 1000;
  const { modelPath, manifest } = loadModelFiles(out);
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  const test = await evaluateFile(session, manifest, spec, join(data, "test.csv"));
  rows.push({ name, test, seconds, rowsPerSecond: result.rowsPerSecond, ortShare: result.ortShare });
  console.log(`${name}: test AUC ${test.overall.auc.toFixed(4)} (${seconds.toFixed(1)} s)`);
}
rows.unshift({ name: "popularity baseline", test: await popularity(baselineSpec!, join(data, "test.csv")) });

const f = (x: number) => x.toFixed(4);
const table = [
  `| model | test AUC | mean domain AUC | ${domains.join(" | ")} | train time (s) |`,
  `|---|---|---|${domains.map(() => "---").join("|")}|---|`,
  ...rows.map((r) => `| ${r.name} | ${f(r.test.overall.auc)} | ${f(r.test.mean_domain_auc)} | ${domains.map((d) => f(r.test.domains[d].auc)).join(" | ")} | ${r.seconds ? r.seconds.toFixed(1) : "–"} |`),
].join("\n");
const doc = `# MovieLens results

ml-latest-small, label = rating ≥ 4, domain = primary genre; split by time: ${sizes.train} train, ${sizes.valid} validation,
${sizes.test} test rows. Each model trains with its spec's settings (Adam, 3 epochs, early stopping on validation mean
domain AUC), one thread; the best epoch's model is scored on the test split. The popularity baseline scores a row by
its movie's number of training ratings. Reproduce with \`npm run movielens:results\`.

${table}
`;
writeFileSync(join(here, "RESULTS.md"), doc);
writeFileSync(join(root, "bench/results/quickstart.json"), JSON.stringify({ date: new Date().toISOString().slice(0, 10), rows: rows.map((r) => ({ name: r.name, test_auc: r.test.overall.auc, mean_domain_auc: r.test.mean_domain_auc, seconds: r.seconds, train_rows_per_s: r.rowsPerSecond, share_in_onnxruntime: r.ortShare })) }, null, 2) + "\n");
writeFileSync(join(root, "bench/results/quickstart.md"), `# quickstart training throughput\n\nWhole \`mdr train\` runs on MovieLens (data loading, shuffling, batching and evaluation included), one thread.\n\n| model | train rows/s | share of wall time inside ONNX Runtime | wall (s) |\n|---|---|---|---|\n${rows.filter((r) => r.seconds).map((r) => `| ${r.name} | ${Math.round(r.rowsPerSecond!)} | ${(r.ortShare! * 100).toFixed(0)}% | ${r.seconds!.toFixed(1)} |`).join("\n")}\n`);
console.log(`\n${table}\n\nwrote examples/movielens/RESULTS.md and bench/results/quickstart.{json,md}`);
