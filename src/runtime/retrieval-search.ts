import ort from "onnxruntime-node";
import type { Manifest } from "../compiler/inference.js";
import { Graph } from "../graph/ops.js";
import { emitModel } from "../onnx/emit.js";
import { DEFAULT_OPSET } from "../onnx/opset.js";
import { encodeBatch, type RawRow } from "./batch.js";
import { createSession } from "./session.js";

// Embedding rows with a tower model, exact top-K search, and the retrieval metrics.

/** Embeddings of rows [rows.length × dim], in batches through a tower session. */
export async function embedRows(session: ort.InferenceSession, manifest: Manifest, rows: RawRow[], file: string, batch = 4096): Promise<Float32Array> {
  const dim = manifest.outputs.find((o) => o.name === "embedding")!.shape[1] as number;
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i += batch) {
    const part = rows.slice(i, i + batch);
    const r = await session.run(encodeBatch(manifest, part, file));
    out.set(r.embedding.data as Float32Array, i * dim);
  }
  return out;
}

/** Top-k item ordinals and scores per query, best first. */
export interface TopK {
  k: number;
  ids: Int32Array;
  scores: Float32Array;
}

/**
 * Exact maximum-inner-product search: one small ONNX graph (MatMul against every item, then TopK) run
 * over chunks of queries, so brute force runs at BLAS speed.
 */
export async function exactSearch(queries: Float32Array, items: Float32Array, dim: number, k: number, threads?: number): Promise<TopK> {
  const m = items.length / dim;
  const n = queries.length / dim;
  const kk = Math.min(k, m);
  const g = new Graph(DEFAULT_OPSET, false);
  const q = g.input("queries", "float32", ["N", dim]);
  const v = g.input("items", "float32", [m, dim]);
  const [scores, ids] = g.topK(g.matmul(q, g.transpose(v, [1, 0])), kk);
  g.output(scores, "scores");
  g.output(ids, "ids");
  const session = await createSession(emitModel(g, { producerVersion: "mdrc", docString: "exact top-k search" }).model, { threads });
  const out: TopK = { k: kk, ids: new Int32Array(n * kk), scores: new Float32Array(n * kk) };
  const itemTensor = new ort.Tensor("float32", items, [m, dim]);
  const chunk = Math.max(1, Math.floor(2 ** 24 / Math.max(m, 1)));
  for (let i = 0; i < n; i += chunk) {
    const rows = Math.min(chunk, n - i);
    const r = await session.run({ queries: new ort.Tensor("float32", queries.subarray(i * dim, (i + rows) * dim), [rows, dim]), items: itemTensor });
    out.scores.set(r.scores.data as Float32Array, i * kk);
    out.ids.set(Int32Array.from(r.ids.data as BigInt64Array, Number), i * kk);
  }
  await session.release();
  return out;
}

export const CUTOFFS = [10, 50, 100] as const;

export interface RetrievalMetrics {
  rows: number;
  recall: Record<string, number>;
  ndcg: Record<string, number>;
}

/**
 * Recall@K and NDCG@K of one positive item per query row: recall is the share of rows whose positive is
 * in the top K; NDCG credits a hit at rank r (0-based) with 1 / log2(r + 2).
 */
export function retrievalMetrics(top: TopK, positives: Int32Array, domains: ArrayLike<number>, domainNames: string[]): { overall: RetrievalMetrics; domains: Record<string, RetrievalMetrics> } {
  const groups = [{ name: "", rows: [] as number[] }, ...domainNames.map((name) => ({ name, rows: [] as number[] }))];
  const rank = new Int32Array(positives.length).fill(-1);
  for (let i = 0; i < positives.length; i++) {
    for (let j = 0; j < top.k && positives[i] >= 0; j++) {
      if (top.ids[i * top.k + j] === positives[i]) {
        rank[i] = j;
        break;
      }
    }
    groups[0].rows.push(i);
    groups[1 + domains[i]]?.rows.push(i);
  }
  const metrics = (rows: number[]): RetrievalMetrics => {
    const recall: Record<string, number> = {};
    const ndcg: Record<string, number> = {};
    for (const K of CUTOFFS) {
      let hits = 0;
      let gain = 0;
      for (const i of rows) {
        if (rank[i] >= 0 && rank[i] < K) {
          hits++;
          gain += 1 / Math.log2(rank[i] + 2);
        }
      }
      recall[`@${K}`] = rows.length ? hits / rows.length : NaN;
      ndcg[`@${K}`] = rows.length ? gain / rows.length : NaN;
    }
    return { rows: rows.length, recall, ndcg };
  };
  return { overall: metrics(groups[0].rows), domains: Object.fromEntries(groups.slice(1).map((g) => [g.name, metrics(g.rows)])) };
}

/** Mean share of the exact top-K that the approximate top-K also found. */
export function recallAgainstExact(approx: TopK, exact: TopK, K: number): number {
  const n = exact.ids.length / exact.k;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const want = new Set(exact.ids.subarray(i * exact.k, i * exact.k + Math.min(K, exact.k)));
    let found = 0;
    for (let j = 0; j < Math.min(K, approx.k); j++) if (want.has(approx.ids[i * approx.k + j])) found++;
    sum += found / want.size;
  }
  return n ? sum / n : NaN;
}
