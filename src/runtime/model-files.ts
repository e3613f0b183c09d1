import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { sha256, specHash, type Manifest } from "../compiler/inference.js";
import { RETRIEVAL_FORMAT } from "../compiler/retrieval.js";
import { UserError } from "../diagnostics/errors.js";

export class ModelFilesError extends UserError {}

/**
 * Finds model.onnx and manifest.json from a model directory or a path to model.onnx, and checks that they
 * belong together: the manifest is complete, its spec hashes to its `spec_sha256`, its file names stay
 * inside the folder, and model.onnx (and its external data) has the SHA-256 the manifest recorded.
 */
export function loadModelFiles(path: string): { modelPath: string; manifest: Manifest } {
  if (!existsSync(path)) throw new ModelFilesError(`cannot read ${path}: no such file or directory`);
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const manifestPath = join(dir, "manifest.json");
  if (!existsSync(manifestPath)) throw new ModelFilesError(`${dir} has no manifest.json; compile the model with \`mdr compile\``);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
  } catch (e) {
    throw new ModelFilesError(`${manifestPath} is not valid JSON: ${(e as Error).message}`);
  }
  if ((manifest as { format?: unknown })?.format === RETRIEVAL_FORMAT) throw new ModelFilesError(`${dir} holds a retrieval model (query and item towers); use \`mdr retrieve\`, \`mdr index\` or \`mdr eval\` with it`);
  if (!manifest || typeof manifest !== "object" || manifest.format !== "mdrc-manifest/1") {
    throw new ModelFilesError(`${manifestPath} is not an mdrc manifest (format ${String(manifest?.format)})`);
  }
  const missing = missingFields(manifest);
  if (missing.length) throw new ModelFilesError(`${manifestPath} is incomplete or damaged (${missing.join(", ")}); recompile the model`);
  if (specHash(manifest.spec) !== manifest.spec_sha256) {
    throw new ModelFilesError(`${manifestPath} was edited: its spec does not match its spec_sha256; recompile the model`);
  }
  for (const f of [manifest.files.model, manifest.files.external_data]) {
    if (f !== undefined && (typeof f !== "string" || f !== basename(f) || f === ".." || f === "." || f === "")) {
      throw new ModelFilesError(`${manifestPath} names the file ${JSON.stringify(f)} outside the model folder; recompile the model`);
    }
  }
  const modelPath = isDir ? join(dir, manifest.files.model) : path;
  if (!existsSync(modelPath)) throw new ModelFilesError(`${modelPath} is missing`);
  checkHash(modelPath, manifest.files.model_sha256);
  if (manifest.files.external_data) checkHash(join(dir, manifest.files.external_data), manifest.files.external_data_sha256);
  return { modelPath, manifest };
}

export function checkHash(file: string, expected: string | undefined): void {
  if (expected === undefined) return; // manifests written before hashes were recorded
  if (!existsSync(file)) throw new ModelFilesError(`${file} is missing`);
  const actual = sha256(readFileSync(file));
  if (actual !== expected) {
    throw new ModelFilesError(`${file} does not belong to this manifest (its SHA-256 differs): it was replaced, damaged or cut short; recompile or copy the model folder again`);
  }
}

function missingFields(m: Manifest): string[] {
  const out: string[] = [];
  const need = (ok: unknown, what: string) => ok || out.push(what);
  need(m.files && typeof m.files.model === "string", "files.model");
  need(Array.isArray(m.inputs) && m.inputs.every((i) => i && typeof i.name === "string" && typeof i.column === "string" && typeof i.dtype === "string"), "inputs");
  need(Array.isArray(m.outputs), "outputs");
  need(m.domain && typeof m.domain.column === "string" && Array.isArray(m.domain.values) && typeof m.domain.unknown === "string", "domain");
  need(typeof m.label === "string", "label");
  need(m.spec && typeof m.spec === "object" && Array.isArray(m.spec.features), "spec");
  need(typeof m.spec_sha256 === "string", "spec_sha256");
  return out;
}
