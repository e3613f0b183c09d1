import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Manifest } from "../compiler/inference.js";
import type { ByteParts } from "../onnx/emit.js";
import { UserError } from "../diagnostics/errors.js";
import { rebuildFromCheckpoint } from "../runtime/model-folder.js";
import { loadModelFiles } from "../runtime/model-files.js";
import { makeFolder, withSignalGuard, writeFilesAtomic } from "../runtime/output.js";
import { servedInputs, servedOutputs } from "../serve/protocol.js";

/** The first opset with StringSplit: a multi-valued field is split inside the graph. */
export const IN_GRAPH_SPLIT_OPSET = 20;

export interface TritonExportOptions {
  /** Name in the repository (default: the model's name). */
  name?: string;
  maxBatch?: number;
  /** Replace a model of that name already in the repository. */
  overwrite?: boolean;
}

export interface TritonExport {
  name: string;
  folder: string;
  opset: number;
  /** Why the model was recompiled for the export, if it was. */
  recompiled?: string;
}

/**
 * Writes `<repository>/<name>/config.pbtxt` and `<name>/1/model.onnx` (ONNX Runtime backend, dynamic
 * batching). Every input is one raw value per row: a model that takes multi-valued fields split on the
 * host is recompiled, from the checkpoint its weights came from, at an opset that splits them in the graph.
 */
export async function exportTriton(modelDir: string, repository: string, options: TritonExportOptions = {}): Promise<TritonExport> {
  const { modelPath, manifest } = loadModelFiles(modelDir);
  const name = options.name ?? manifest.model;
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === "." || name === "..") throw new UserError(`'${name}' cannot name a Triton model: use letters, digits, '_', '.' and '-'`);
  const maxBatch = options.maxBatch ?? 4096;
  let files: Record<string, Uint8Array | ByteParts>;
  let exported = manifest;
  let recompiled: string | undefined;
  if (manifest.inputs.some((i) => i.split_by !== undefined)) {
    const copy = rebuildFromCheckpoint(dirname(modelPath), manifest, { opset: Math.max(IN_GRAPH_SPLIT_OPSET, manifest.opset) });
    if (!copy) {
      throw new UserError(
        `${modelDir} takes multi-valued fields split on the host (opset ${manifest.opset}), and Triton sends one value per row; ` +
        `no checkpoint in the folder rebuilds its model.onnx, so it cannot be recompiled here. Compile it with \`mdr compile <spec> --checkpoint <checkpoint> --opset ${IN_GRAPH_SPLIT_OPSET}\` and export that folder`,
      );
    }
    files = copy.files;
    exported = copy.manifest;
    recompiled = `multi-valued fields are split in the graph at opset ${exported.opset} (the model folder's copy is opset ${manifest.opset})`;
  } else {
    files = { "model.onnx": readFileSync(modelPath) };
    if (manifest.files.external_data) files[manifest.files.external_data] = readFileSync(join(dirname(modelPath), manifest.files.external_data));
  }
  const folder = join(repository, name);
  if (existsSync(folder) && !options.overwrite) throw new UserError(`${folder} exists; use --overwrite to replace that model, or --name to export under another name`);
  makeFolder(repository);
  // Built beside its final place and renamed in: Triton never sees half a model.
  const temp = join(repository, `.${name}.tmp-${randomBytes(4).toString("hex")}`);
  await withSignalGuard(() => {
    try {
      writeFilesAtomic(join(temp, "1"), files);
      writeFilesAtomic(temp, { "config.pbtxt": tritonConfig(name, exported, maxBatch) });
      const old = existsSync(folder) ? `${temp}.old` : undefined;
      if (old) renameSync(folder, old);
      renameSync(temp, folder);
      if (old) rmSync(old, { recursive: true, force: true });
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  });
  return { name, folder, opset: exported.opset, ...(recompiled ? { recompiled } : {}) };
}

/**
 * Triton's model configuration in protobuf text format. The graph's tensors are [N] (one value per row)
 * or [N, k]; with batching Triton adds the batch dimension itself, so a [N] tensor is `dims: [ 1 ]`
 * reshaped to `[ ]`, as Triton's documentation describes for batch-only tensors.
 */
export function tritonConfig(name: string, m: Manifest, maxBatch: number): string {
  const type = (d: string) => `TYPE_${d === "BYTES" ? "STRING" : d}`;
  const tensor = (t: { name: string; datatype: string; shape: number[] }) => {
    const rest = t.shape.slice(1);
    const dims = rest.length ? `dims: [ ${rest.join(", ")} ]` : "dims: [ 1 ]\n    reshape: { shape: [ ] }";
    return `  {\n    name: ${quote(t.name)}\n    data_type: ${type(t.datatype)}\n    ${dims}\n  }`;
  };
  const param = (key: string, value: string) => `  {\n    key: ${quote(key)}\n    value: { string_value: ${quote(value)} }\n  }`;
  return [
    `name: ${quote(name)}`,
    `backend: "onnxruntime"`,
    `platform: "onnxruntime_onnx"`,
    `max_batch_size: ${maxBatch}`,
    `input [\n${servedInputs(m).map(tensor).join(",\n")}\n]`,
    `output [\n${servedOutputs(m).map(tensor).join(",\n")}\n]`,
    `dynamic_batching { }`,
    `parameters [\n${[param("mdrc.version", m.mdrc_version), param("mdrc.spec_sha256", m.spec_sha256), param("mdrc.label", m.label)].join(",\n")}\n]`,
    "",
  ].join("\n");
}

function quote(s: string): string {
  return JSON.stringify(s);
}
