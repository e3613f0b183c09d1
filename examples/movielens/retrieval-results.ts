/**
 * Reproduces the README's MovieLens retrieval table: per-domain popularity, a shared two-tower model and
 * CESAA in the query tower, each scored on the newest 10% of positive events against all 9,742 movies:
 * recall@10/50/100 overall and per shelf. Writes examples/movielens/RETRIEVAL.md.
 *
 *   npm run movielens:retrieval-results
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileSpecFile } from "../../src/compiler/frontend.js";
import { readItemCatalog, readQueryRows, towerColumns } from "../../src/runtime/retrieval-data.js";
import { evaluateRetrieval } from "../../src/runtime/retrieval-eval.js";
import { loadRetrievalFolder, towerSession } from "../../src/runtime/retrieval-folder.js";
import { retrievalMetrics, type RetrievalMetrics, type TopK } from "../../src/runtime/retrieval-search.js";
import { trainRetrieval } from "../../src/runtime/retrieval-train.js";
import { prepareRetrieval } from "./prepare-retrieval.js";

const here = new URL("../../../examples/movielens/", import.meta.url).pathname;
const root = new URL("../../../", import.meta.url).pathname;
const data = join(here, "data", "retrieval");
const K = 100;

type Table = { overall: RetrievalMetrics; domains: Record<string, RetrievalMetrics> };

/** Each shelf's most frequent training positives, the same list for every query of that shelf. */
async function popularity(dir: string, ids: string[]): Promise<Table> {
  const m = loadRetrievalFolder(dir);
  const train = await readQueryRows(join(data, "train.csv"), m.query, new Map([["movieId", "item"]]));
  const D = m.spec.domain.values.length;
  const counts = Array.from({ length: D }, () => new Map<string, number>());
  train.rows.forEach((r, i) => counts[train.domains[i]].set(String(r.values.movieId), (counts[train.domains[i]].get(String(r.values.movieId)) ?? 0) + 1));
  const position = new Map(ids.map((id, i) => [id, i]));
  const lists = counts.map((c) => [...c].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, K).map(([id]) => position.get(id)!));
  const test = await readQueryRows(join(data, "test.csv"), m.query, new Map([["movieId", "item"]]));
  const top: TopK = { k: K, ids: new Int32Array(test.rows.length * K).fill(-1), scores: new Float32Array(test.rows.length * K) };
  test.rows.forEach((_, i) => top.ids.set(lists[test.domains[i]], i * K));
  const positives = Int32Array.from(test.rows, (r) => position.get(String(r.values.movieId)) ?? -1);
  return retrievalMetrics(top, positives, test.domains, m.spec.domain.values);
}

const sizes = prepareRetrieval(data);
const results: Record<string, Table> = {};
let index = 0;
for (const name of ["shared", "cesaa"]) {
  const compiled = compileSpecFile(join(here, "retrieval", `${name}.mdr`));
  const out = join(root, "runs", `retrieval-${name}`);
  await trainRetrieval({ spec: compiled.retrieval!.spec, train: join(data, "train.csv"), valid: join(data, "valid.csv"), out, overwrite: true, threads: 2, log: (l) => process.stderr.write(`${name}: ${l}\n`) });
  const m = loadRetrievalFolder(out);
  const catalogue = await readItemCatalog(join(data, "items.csv"), m.item_id, towerColumns(m.item, "item"));
  const sessions = { query: await towerSession(out, m, "query"), item: await towerSession(out, m, "item") };
  const e = await evaluateRetrieval(sessions, m, join(data, "test.csv"), catalogue, { index: "build" });
  results[name === "shared" ? "shared two-tower" : "CESAA query tower"] = e.exact;
  if (name === "cesaa") {
    results["CESAA, through the HNSW index"] = { overall: e.index!.overall, domains: e.index!.domains };
    index = e.index!.recall_vs_exact["@100"];
    results["per-domain popularity"] = await popularity(out, catalogue.ids);
  }
}
const order = ["per-domain popularity", "shared two-tower", "CESAA query tower", "CESAA, through the HNSW index"];
const domains = Object.keys(results["shared two-tower"].domains);
const f = (x: number) => x.toFixed(3);
const lines = [
  "# MovieLens retrieval results",
  "",
  `Made by \`npm run movielens:retrieval-results\`: ${sizes.train} / ${sizes.valid} / ${sizes.test} positive events (train / valid / test, by time), retrieved from all ${sizes.items} movies. Recall@K is the share of test events whose movie is in the top K.`,
  "",
  "| model | recall@10 | recall@50 | recall@100 | ndcg@10 |",
  "|---|---|---|---|---|",
  ...order.map((n) => `| ${n} | ${f(results[n].overall.recall["@10"])} | ${f(results[n].overall.recall["@50"])} | ${f(results[n].overall.recall["@100"])} | ${f(results[n].overall.ndcg["@10"])} |`),
  "",
  "Recall@100 per shelf:",
  "",
  `| model | ${domains.join(" | ")} |`,
  `|---|${domains.map(() => "---").join("|")}|`,
  ...order.map((n) => `| ${n} | ${domains.map((d) => f(results[n].domains[d].recall["@100"])).join(" | ")} |`),
  "",
  `The HNSW index (usearch) finds ${f(index)} of the exact top 100 (recall@100 against exact search).`,
  "",
];
writeFileSync(join(here, "RETRIEVAL.md"), lines.join("\n"));
process.stdout.write(lines.join("\n"));
