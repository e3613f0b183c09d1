import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import usearch from "usearch";
import type { RetrievalManifest } from "../compiler/retrieval.js";
import { UserError } from "../diagnostics/errors.js";
import { writeFilesAtomic } from "./output.js";
import type { TopK } from "./retrieval-search.js";

// The approximate nearest-neighbour index of item embeddings (usearch HNSW, inner product) and the
// Parquet file of (item id, vector) that goes with it, for loading into a distributed vector database.

export const INDEX_FILES = { index: "index.usearch", items: "items.parquet", meta: "index.json" } as const;

/** HNSW settings: enough graph degree and search breadth that recall@100 against exact search stays ≥ 0.95 on catalogues of this size. */
const HNSW = { connectivity: 32, expansion_add: 200, expansion_search: 256 };

export interface IndexMeta {
  format: "mdrc-index/1";
  model: string;
  spec_sha256: string;
  item_id: string;
  dim: number;
  items: number;
  metric: "inner_product";
  hnsw: typeof HNSW;
}

export interface ItemIndex {
  meta: IndexMeta;
  ids: string[];
  index: InstanceType<typeof usearch.Index>;
}

/** An HNSW index over item vectors; key i is item i. */
export function buildIndex(vectors: Float32Array, dim: number, threads = 0): InstanceType<typeof usearch.Index> {
  const n = vectors.length / dim;
  const index = newIndex(dim, HNSW);
  if (n > 0) index.add(BigUint64Array.from({ length: n }, (_, i) => BigInt(i)), vectors, threads);
  return index;
}

function newIndex(dim: number, hnsw: typeof HNSW): InstanceType<typeof usearch.Index> {
  return new usearch.Index({ dimensions: dim, metric: "ip" as never, quantization: "f32" as never, multi: false, ...hnsw });
}

/** Top-k through the index; scores are inner products (usearch reports 1 − q·v). */
export function searchIndex(index: InstanceType<typeof usearch.Index>, queries: Float32Array, dim: number, k: number, threads = 0): TopK {
  const n = queries.length / dim;
  const kk = Math.min(k, index.size());
  const out: TopK = { k: kk, ids: new Int32Array(n * kk).fill(-1), scores: new Float32Array(n * kk).fill(-Infinity) };
  const chunk = 4096;
  for (let i = 0; i < n; i += chunk) {
    const rows = Math.min(chunk, n - i);
    const part = queries.subarray(i * dim, (i + rows) * dim);
    const matches = index.search(Array.from({ length: rows }, (_, r) => part.subarray(r * dim, (r + 1) * dim)), kk, threads) as unknown as { keys: BigUint64Array; distances: Float32Array; counts?: BigUint64Array };
    for (let r = 0; r < rows; r++) {
      // One query comes back as single Matches, without counts.
      const found = matches.counts ? Number(matches.counts[r]) : matches.keys.length;
      for (let j = 0; j < found; j++) {
        out.ids[(i + r) * kk + j] = Number(matches.keys[r * kk + j]);
        out.scores[(i + r) * kk + j] = 1 - matches.distances[r * kk + j];
      }
    }
  }
  return out;
}

/** Writes index.usearch, items.parquet (item_id, vector as list<float>) and index.json, all or nothing. */
export function writeIndexFolder(dir: string, m: RetrievalManifest, ids: string[], vectors: Float32Array, index: InstanceType<typeof usearch.Index>): void {
  const dim = m.embedding.dim;
  const scratch = mkdtempSync(join(tmpdir(), "mdr-index-"));
  try {
    index.save(join(scratch, INDEX_FILES.index));
    const meta: IndexMeta = { format: "mdrc-index/1", model: m.model, spec_sha256: m.spec_sha256, item_id: m.item_id, dim, items: ids.length, metric: "inner_product", hnsw: HNSW };
    writeFilesAtomic(dir, {
      [INDEX_FILES.index]: readFileSync(join(scratch, INDEX_FILES.index)),
      [INDEX_FILES.items]: new Uint8Array(itemsParquet(ids, vectors, dim)),
      [INDEX_FILES.meta]: JSON.stringify(meta, null, 2) + "\n",
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function itemsParquet(ids: string[], vectors: Float32Array, dim: number): ArrayBuffer {
  const schema = [
    { name: "root", num_children: 2 },
    { name: "item_id", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
    { name: "vector", repetition_type: "REQUIRED", converted_type: "LIST", num_children: 1 },
    { name: "list", repetition_type: "REPEATED", num_children: 1 },
    { name: "element", type: "FLOAT", repetition_type: "REQUIRED" },
  ] as const;
  const rows = Array.from({ length: ids.length }, (_, i) => Array.from(vectors.subarray(i * dim, (i + 1) * dim)));
  return parquetWriteBuffer({ schema: schema as never, columnData: [{ name: "item_id", data: ids }, { name: "vector", data: rows }] });
}

/** Reads an index folder written for this model (a folder built from another model is refused). */
export async function readIndexFolder(dir: string, m: RetrievalManifest): Promise<ItemIndex> {
  const metaPath = join(dir, INDEX_FILES.meta);
  if (!existsSync(metaPath)) throw new UserError(`${dir} is not an index folder (no ${INDEX_FILES.meta}); build one with \`mdr index\``);
  let meta: IndexMeta;
  try {
    meta = JSON.parse(readFileSync(metaPath, "utf8")) as IndexMeta;
  } catch (e) {
    throw new UserError(`${metaPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (meta?.format !== "mdrc-index/1") throw new UserError(`${metaPath} is not an mdrc index description`);
  if (meta.spec_sha256 !== m.spec_sha256) throw new UserError(`the index in ${dir} was built for another model (${meta.model}); rebuild it with \`mdr index\` for this one`);
  const buffer = readFileSync(join(dir, INDEX_FILES.items));
  const rows = (await parquetReadObjects({ file: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength), columns: ["item_id"] })) as { item_id: string }[];
  const index = newIndex(meta.dim, meta.hnsw);
  index.load(join(dir, INDEX_FILES.index));
  if (index.size() !== rows.length || rows.length !== meta.items) throw new UserError(`the index in ${dir} is damaged: ${index.size()} vectors, ${rows.length} item ids, ${meta.items} recorded; rebuild it with \`mdr index\``);
  return { meta, ids: rows.map((r) => r.item_id), index };
}
