import ort from "onnxruntime-node";
import type { Manifest } from "../compiler/inference.js";
import { UserError } from "../diagnostics/errors.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RetrievalManifest } from "../compiler/retrieval.js";
import { loadModelFiles } from "../runtime/model-files.js";
import { isRetrievalFolder, loadRetrievalFolder } from "../runtime/retrieval-folder.js";
import { readIndexFolder, type ItemIndex } from "../runtime/retrieval-index.js";
import { createSession, type ExecutionProvider } from "../runtime/session.js";
import { MicroBatcher, type BatcherOptions, type Outputs } from "./batcher.js";

/** One loaded version of a served model: its files, session and batcher. Immutable once live. */
export interface ModelVersion {
  name: string;
  version: number;
  dir: string;
  manifest: Manifest;
  session: ort.InferenceSession;
  batcher: MicroBatcher;
  loadedAt: Date;
  loadSeconds: number;
  /** A retrieval model: `manifest` is its query tower's (plus the index's outputs), answered from `index`. */
  retrieval?: { manifest: RetrievalManifest; index: ItemIndex };
}

export interface RegistryOptions {
  ep?: ExecutionProvider;
  threads?: number;
  batching: Omit<BatcherOptions, "onRun">;
  onRun?: (model: string, rows: number, requests: number) => void;
  onLoad?: (v: ModelVersion) => void;
}

/**
 * The served models by name. Loading a version builds and test-runs its session first and then swaps one
 * reference: a request takes the version that is current when it arrives and is encoded, batched and run
 * on that version alone, so no request sees two versions. A retired version is released once its batcher
 * is idle.
 */
export class ModelRegistry {
  private readonly models = new Map<string, { dir: string; current?: ModelVersion; loading: Promise<unknown> }>();

  constructor(private readonly options: RegistryOptions) {}

  names(): string[] {
    return [...this.models.keys()];
  }

  get(name: string): ModelVersion | undefined {
    return this.models.get(name)?.current;
  }

  /** Loads (or reloads) a model from its folder; the current version keeps serving until the new one is ready. */
  async load(name: string, dir?: string): Promise<ModelVersion> {
    const entry = this.models.get(name) ?? { dir: dir!, loading: Promise.resolve() };
    if (dir) entry.dir = dir;
    this.models.set(name, entry);
    // Loads of one model run one after another, so versions are numbered in the order they went live.
    const next = entry.loading.catch(() => {}).then(() => this.loadVersion(name, entry));
    entry.loading = next;
    return next;
  }

  private async loadVersion(name: string, entry: { dir: string; current?: ModelVersion }): Promise<ModelVersion> {
    const t0 = performance.now();
    const { modelPath, manifest, retrieval } = await modelFilesOf(entry.dir);
    const session = await createSession(modelPath, { ep: this.options.ep, threads: this.options.threads });
    try {
      await session.run(warmUpFeeds(manifest));
    } catch (e) {
      await session.release();
      throw new UserError(`${entry.dir}: the model does not run (${(e as Error).message.split("\n")[0]}); recompile it`);
    }
    const run = (feeds: Record<string, ort.Tensor>): Promise<Outputs> => session.run(feeds);
    const batcher = new MicroBatcher(run, { ...this.options.batching, onRun: (rows, requests) => this.options.onRun?.(name, rows, requests) });
    const v: ModelVersion = {
      name, version: (entry.current?.version ?? 0) + 1, dir: entry.dir, manifest, session, batcher, loadedAt: new Date(), loadSeconds: (performance.now() - t0) / 1000,
      ...(retrieval ? { retrieval } : {}),
    };
    const old = entry.current;
    entry.current = v;
    this.options.onLoad?.(v);
    if (old) void retire(old);
    return v;
  }

  /** Waits for every queued request, then releases the sessions (on shutdown). */
  async close(): Promise<void> {
    for (const e of this.models.values()) {
      await e.loading.catch(() => {});
      if (e.current) await retire(e.current);
    }
  }
}

/** Top-k answers of a served retrieval model, besides its query embedding. */
export const RETRIEVAL_OUTPUTS = ["item_ids", "scores"] as const;

/**
 * A ranking folder's model and manifest; or a retrieval folder's query model, served with the index in
 * `<folder>/index` (written by `mdr index <folder> --items … -o <folder>/index`).
 */
async function modelFilesOf(dir: string): Promise<{ modelPath: string; manifest: Manifest; retrieval?: ModelVersion["retrieval"] }> {
  if (!isRetrievalFolder(dir)) return loadModelFiles(dir);
  const m = loadRetrievalFolder(dir);
  const indexDir = join(dir, "index");
  if (!existsSync(indexDir)) throw new UserError(`${dir} is a retrieval model without an index; build one with \`mdr index ${dir} --items <file> -o ${indexDir}\``);
  const index = await readIndexFolder(indexDir, m);
  const k = ["N", "K"];
  const manifest: Manifest = {
    ...m.query,
    outputs: [
      ...m.query.outputs,
      { name: RETRIEVAL_OUTPUTS[0], dtype: "string", shape: k, meaning: `ids (${m.item_id}) of the top K items, best first; K is the request's parameters.top_k (default 100)` },
      { name: RETRIEVAL_OUTPUTS[1], dtype: "float32", shape: k, meaning: "their scores, query · item" },
    ],
  };
  return { modelPath: join(dir, m.query.files.model), manifest, retrieval: { manifest: m, index } };
}

async function retire(v: ModelVersion): Promise<void> {
  await v.batcher.idle();
  await v.session.release();
}

/** One row of neutral values: a model that cannot run it never goes live. */
function warmUpFeeds(m: Manifest): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of m.inputs) {
    if (i.dtype === "float32") feeds[i.name] = new ort.Tensor("float32", new Float32Array(1), [1]);
    else if (i.dtype === "int64") feeds[i.name] = new ort.Tensor("int64", new BigInt64Array(1), [1]);
    else if (i.split_by !== undefined) feeds[i.name] = new ort.Tensor("string", [""], [1, 1]);
    else feeds[i.name] = new ort.Tensor("string", [i.column === m.domain.column ? m.domain.values[0] : ""], [1]);
  }
  return feeds;
}
