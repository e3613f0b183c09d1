import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Manifest } from "../compiler/inference.js";

export class ModelFilesError extends Error {}

/** Finds model.onnx and manifest.json from a model directory or a path to model.onnx. */
export function loadModelFiles(path: string): { modelPath: string; manifest: Manifest } {
  if (!existsSync(path)) throw new ModelFilesError(`cannot read ${path}: no such file or directory`);
  const dir = statSync(path).isDirectory() ? path : dirname(path);
  const manifestPath = join(dir, "manifest.json");
  if (!existsSync(manifestPath)) throw new ModelFilesError(`${dir} has no manifest.json; compile the model with \`mdr compile\``);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
  } catch (e) {
    throw new ModelFilesError(`${manifestPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (manifest.format !== "mdrc-manifest/1") throw new ModelFilesError(`${manifestPath} is not an mdrc manifest (format ${String(manifest.format)})`);
  const modelPath = statSync(path).isDirectory() ? join(dir, manifest.files.model) : path;
  if (!existsSync(modelPath)) throw new ModelFilesError(`${modelPath} is missing`);
  return { modelPath, manifest };
}
