import { createHash } from "node:crypto";
import type { DispatchMode } from "../graph/dispatch.js";
import { emptyModelData, type ModelData } from "../plan/model-data.js";
import { buildModel } from "../graph/model.js";
import type { FeatureGraph } from "../graph/features/common.js";
import type { Graph } from "../graph/ops.js";
import { asParts, emitModelParts, type ByteParts } from "../onnx/emit.js";
import { DEFAULT_OPSET, opsetInfo } from "../onnx/opset.js";
import type { Spec } from "../spec/types.js";
import { mdrcVersion } from "./version.js";

export interface CompileOptions {
  opset?: number;
  dispatch?: DispatchMode;
  debugOutputs?: boolean;
  data?: ModelData;
  /** Total tensor bytes above which weights go to external data (tests lower it). */
  externalDataAbove?: number;
  /** Trained values of parameters (and embedding tables), by parameter name, replacing the initial ones. */
  weights?: Map<string, Float32Array>;
  /** Embedding tables (by initializer name) made graph inputs the caller feeds at every run, not written into the model. */
  weightsAsInputs?: ReadonlySet<string>;
}

export interface Manifest {
  format: "mdrc-manifest/1";
  model: string;
  mdrc_version: string;
  spec_sha256: string;
  opset: number;
  ml_opset: number;
  ir_version: number;
  /** File names inside the model folder, with the SHA-256 of their bytes (checked on load). */
  files: { model: string; model_sha256?: string; external_data?: string; external_data_sha256?: string };
  label: string;
  inputs: { name: string; column: string; dtype: string; shape: (number | string)[]; meaning: string; split_by?: string }[];
  outputs: { name: string; dtype: string; shape: (number | string)[]; meaning: string }[];
  domain: { column: string; values: string[]; unknown: string; fallback?: string };
  features: { name: string; kind: string; column: string; table?: string; table_rows?: number; vocabulary?: number }[];
  dispatch: Record<string, DispatchMode>;
  numeric: ModelData["numeric"];
  spec: Spec;
}

export interface CompiledInference {
  /** Each file's bytes as the pieces they are written from (joinParts gives one array). */
  files: Record<string, ByteParts>;
  manifest: Manifest;
}

export function specHash(spec: Spec): string {
  return createHash("sha256").update(JSON.stringify(spec)).digest("hex");
}

/** Canonical spec → inference ONNX model + manifest (bytes, not yet on disk). */
export function compileInference(spec: Spec, options: CompileOptions = {}): CompiledInference {
  const opset = options.opset ?? DEFAULT_OPSET;
  const data = options.data ?? emptyModelData();
  const tablesFed = (options.weightsAsInputs?.size ?? 0) > 0;
  const built = buildModel(spec, data, { opset, dispatch: options.dispatch, debugOutputs: options.debugOutputs, weights: options.weights, tablesFed });
  return packageModel(spec, built, data, options);
}

/** A built inference graph → ONNX bytes (trained weights put in, metadata attached) + its manifest. */
export function packageModel(spec: Spec, built: { graph: Graph; features: FeatureGraph }, data: ModelData, options: CompileOptions, modelFile = "model.onnx"): CompiledInference {
  const opset = options.opset ?? DEFAULT_OPSET;
  const info = opsetInfo(opset);
  if (options.weights) {
    for (const init of built.graph.initializers) {
      const w = options.weights.get(init.name);
      if (!w) continue;
      if (w.length !== (init.data as Float32Array).length) throw new Error(`weights for ${init.name} have ${w.length} values, the model needs ${(init.data as Float32Array).length}`);
      (init as { data: Float32Array }).data = w;
    }
  }
  const hash = specHash(spec);
  const g = built.graph;
  const inputs: Manifest["inputs"] = built.features.inputs.map((i) => ({
    name: i.column, column: i.column, dtype: i.dtype, shape: i.shape, meaning: i.role, ...(i.splitBy !== undefined ? { split_by: i.splitBy } : {}),
  }));
  const outputs: Manifest["outputs"] = [...g.outputs].sort((a, b) => rank(a.name) - rank(b.name)).map((o) => ({ name: o.name, dtype: o.dtype, shape: [...o.shape], meaning: o.doc ?? "" }));
  const domain: Manifest["domain"] = { column: spec.domain.column, values: spec.domain.values, unknown: spec.domain.unknown, ...(spec.domain.fallback ? { fallback: spec.domain.fallback } : {}) };
  const features: Manifest["features"] = spec.features.map((f) => ({
    name: f.name, kind: f.kind, column: f.column,
    ...(f.kind !== "numeric" && f.table ? { table: f.table } : {}),
    ...(built.features.tableRows[f.name] !== undefined ? { table_rows: built.features.tableRows[f.name] } : {}),
    ...(f.kind !== "numeric" && !f.table && f.hash_buckets === undefined && !f.range ? { vocabulary: data.vocabularies[f.name]?.length ?? 0 } : {}),
  }));
  const emitted = emitModelParts(g, {
    producerVersion: mdrcVersion,
    docString: `mdrc model ${spec.model}`,
    // The model file describes itself to any runtime, without the manifest beside it.
    metadata: {
      "mdrc.model": spec.model, "mdrc.version": mdrcVersion, "mdrc.spec_sha256": hash, "mdrc.label": spec.label,
      "mdrc.domain": JSON.stringify(domain), "mdrc.inputs": JSON.stringify(inputs), "mdrc.outputs": JSON.stringify(outputs), "mdrc.features": JSON.stringify(features),
    },
    externalDataAbove: options.externalDataAbove,
    externalDataFile: `${modelFile}.data`,
    asInputs: options.weightsAsInputs,
  });
  const manifest: Manifest = {
    format: "mdrc-manifest/1",
    model: spec.model,
    mdrc_version: mdrcVersion,
    spec_sha256: hash,
    opset,
    ml_opset: info.ml,
    ir_version: info.ir,
    files: {
      model: modelFile, model_sha256: sha256(emitted.model),
      ...(emitted.externalData ? { external_data: `${modelFile}.data`, external_data_sha256: sha256(emitted.externalData) } : {}),
    },
    label: spec.label,
    inputs,
    outputs,
    domain,
    features,
    dispatch: Object.fromEntries(spec.gates.filter((x) => x.type === "topk").map((x) => [x.name, options.dispatch ?? x.dispatch])),
    numeric: data.numeric,
    spec,
  };
  const files: Record<string, ByteParts> = { [modelFile]: emitted.model };
  if (emitted.externalData) files[`${modelFile}.data`] = emitted.externalData;
  return { files, manifest };
}

/** Hex SHA-256 of bytes: the hashes a manifest records for its files. */
export function sha256(bytes: Uint8Array | ByteParts): string {
  const hash = createHash("sha256");
  for (const part of asParts(bytes)) hash.update(part);
  return hash.digest("hex");
}

function rank(name: string): number {
  return name === "probability" ? 0 : name === "logit" ? 1 : 2;
}
