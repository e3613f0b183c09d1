import type * as ort from "onnxruntime-node";
import type { RetrievalManifest } from "../compiler/retrieval.js";
import { itemIdOf, readQueryRows, type Catalogue } from "./retrieval-data.js";
import { buildIndex, searchIndex, type ItemIndex } from "./retrieval-index.js";
import { CUTOFFS, embedRows, exactSearch, recallAgainstExact, retrievalMetrics, type RetrievalMetrics } from "./retrieval-search.js";

export interface RetrievalEvaluation {
  rows: number;
  skipped: number;
  items: number;
  /** Rows whose positive item is not in the catalogue: always misses. */
  unknown_items: number;
  exact: { overall: RetrievalMetrics; domains: Record<string, RetrievalMetrics> };
  index?: { overall: RetrievalMetrics; domains: Record<string, RetrievalMetrics>; recall_vs_exact: Record<string, number> };
}

/**
 * Recall@K and NDCG@K (K = 10, 50, 100) of the positive pairs in `file` against a catalogue: by exact
 * search and, with `index` ("build" makes one in memory), through the approximate index, with the index's
 * recall against exact search.
 */
export async function evaluateRetrieval(
  sessions: { query: ort.InferenceSession; item: ort.InferenceSession },
  m: RetrievalManifest, file: string, catalogue: Catalogue, options: { index?: ItemIndex | "build"; threads?: number } = {},
): Promise<RetrievalEvaluation> {
  const dim = m.embedding.dim;
  const queries = await readQueryRows(file, m.query, new Map([[m.item_id, "the positive item id"]]));
  const position = new Map(catalogue.ids.map((id, i) => [id, i]));
  const positives = Int32Array.from(queries.rows, (r) => position.get(itemIdOf(r, m.item_id, file)) ?? -1);
  const q = await embedRows(sessions.query, m.query, queries.rows, file);
  const K = Math.max(...CUTOFFS);
  let items: Float32Array | undefined;
  const itemVectors = async () => (items ??= await embedRows(sessions.item, m.item, catalogue.rows, catalogue.file));
  const exact = await exactSearch(q, await itemVectors(), dim, K, options.threads);
  const result: RetrievalEvaluation = {
    rows: queries.rows.length, skipped: queries.skipped, items: catalogue.ids.length, unknown_items: positives.filter((p) => p < 0).length,
    exact: retrievalMetrics(exact, positives, queries.domains, m.spec.domain.values),
  };
  if (options.index) {
    const index = options.index === "build" ? buildIndex(await itemVectors(), dim, options.threads) : options.index.index;
    // A prebuilt index numbers items its own way: map them onto this catalogue's positions.
    const remap = options.index === "build" ? undefined : options.index.ids.map((id) => position.get(id) ?? -1);
    const approx = searchIndex(index, q, dim, K, options.threads);
    if (remap) for (let i = 0; i < approx.ids.length; i++) approx.ids[i] = approx.ids[i] < 0 ? -1 : remap[approx.ids[i]];
    result.index = {
      ...retrievalMetrics(approx, positives, queries.domains, m.spec.domain.values),
      recall_vs_exact: Object.fromEntries(CUTOFFS.map((c) => [`@${c}`, recallAgainstExact(approx, exact, c)])),
    };
  }
  return result;
}
