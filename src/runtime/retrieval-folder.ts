import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import ort from "onnxruntime-node";
import { specHash } from "../compiler/inference.js";
import { RETRIEVAL_FORMAT, type RetrievalManifest } from "../compiler/retrieval.js";
import { SIDES, type Side, type Spec } from "../spec/types.js";
import { checkHash, ModelFilesError } from "./model-files.js";
import { createSession, type SessionOptions } from "./session.js";

/** Whether a folder's manifest says it holds a retrieval model (nothing else is checked here). */
export function isRetrievalFolder(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { format?: unknown }).format === RETRIEVAL_FORMAT;
  } catch {
    return false;
  }
}

/**
 * A retrieval model folder (`mdr compile` / `mdr train` of a `task: retrieval` spec): manifest.json,
 * query_model.onnx and item_model.onnx, checked to belong together like a ranking model's files.
 */
export function loadRetrievalFolder(dir: string): RetrievalManifest {
  const path = join(dir, "manifest.json");
  if (!existsSync(path)) throw new ModelFilesError(`${dir} has no manifest.json; train or compile a retrieval spec into it first`);
  let m: RetrievalManifest;
  try {
    m = JSON.parse(readFileSync(path, "utf8")) as RetrievalManifest;
  } catch (e) {
    throw new ModelFilesError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (m?.format !== RETRIEVAL_FORMAT) {
    throw new ModelFilesError(`${dir} is not a retrieval model (manifest format ${JSON.stringify((m as { format?: unknown })?.format)}); \`mdr retrieve\`, \`mdr index\` and retrieval \`mdr eval\` need the folder of a \`task: retrieval\` spec`);
  }
  if (!m.spec || specHash(m.spec as unknown as Spec) !== m.spec_sha256 || typeof m.item_id !== "string" || !m.embedding || typeof m.embedding.dim !== "number") {
    throw new ModelFilesError(`${path} was edited or damaged (its spec, item_id or embedding do not check out); recompile the model`);
  }
  for (const side of SIDES) {
    const file = m[side]?.files?.model;
    if (typeof file !== "string" || file !== basename(file) || file === "." || file === "..") throw new ModelFilesError(`${path} names no usable ${side} model file; recompile the model`);
    if (!existsSync(join(dir, file))) throw new ModelFilesError(`${join(dir, file)} is missing`);
    checkHash(join(dir, file), m[side].files.model_sha256);
  }
  return m;
}

/** A session on one tower of a checked folder. */
export function towerSession(dir: string, m: RetrievalManifest, side: Side, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  return createSession(join(dir, m[side].files.model), options);
}
