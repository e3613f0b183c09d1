import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type ort from "onnxruntime-node";
import { compileInference, sha256, type CompiledInference, type Manifest } from "../compiler/inference.js";
import { partsLength, type ByteParts } from "../onnx/emit.js";
import { compileTrainStep } from "../compiler/train-step.js";
import { UserError } from "../diagnostics/errors.js";
import { DEFAULT_OPSET } from "../onnx/opset.js";
import { emptyModelData } from "../plan/model-data.js";
import type { DispatchMode } from "../plan/plan.js";
import type { Spec } from "../spec/types.js";
import { checkpointChunks, readCheckpoint } from "./checkpoint.js";
import { checkpointWeights, initialCheckpoint } from "./checkpoint-layout.js";
import { withSignalGuard, writeFilesAtomic } from "./output.js";
import { RUN_FILE, specConflicts } from "./run-folder.js";
import { createSession, type SessionOptions } from "./session.js";

export interface CompileFolderOptions {
  opset?: number;
  dispatch?: DispatchMode;
  debugOutputs?: boolean;
  /** Take weights, vocabularies and statistics from this training checkpoint. */
  checkpoint?: string;
  /** Also write train_step.onnx, its signature and (without a checkpoint) the initial checkpoint. */
  trainStep?: boolean;
}

/**
 * `mdr compile` as a library function: a checked spec → a model folder (model.onnx, manifest.json and,
 * optionally, the training step and its initial checkpoint), written atomically. Returns the file names.
 */
export async function compileModelFolder(spec: Spec, out: string, options: CompileFolderOptions = {}): Promise<{ files: string[]; modelBytes: number }> {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (out === "-") throw new UserError("-o - means stdout, and a compiled model is a folder; name the folder");
  if (existsSync(join(out, RUN_FILE))) {
    throw new UserError(`${out} holds a training run; compiling into it would replace its trained model — choose another folder`);
  }
  const trained = options.checkpoint ? checkpointForSpec(options.checkpoint, spec) : undefined;
  const result = compileInference(spec, { opset, dispatch: options.dispatch, debugOutputs: options.debugOutputs, ...(trained ?? {}) });
  const files: Record<string, Uint8Array | ByteParts | string> = { ...result.files, "manifest.json": JSON.stringify(result.manifest, null, 2) + "\n" };
  if (options.trainStep ?? true) {
    const step = compileTrainStep(spec, { opset, dispatch: options.dispatch, ...(trained ? { data: trained.data } : {}) });
    files["train_step.onnx"] = step.model;
    files["train_step.json"] = JSON.stringify(step.signature, null, 2) + "\n";
    if (!options.checkpoint) files["checkpoint.safetensors"] = Buffer.concat(checkpointChunks(initialCheckpoint(spec, step, emptyModelData())));
  }
  await withSignalGuard(() => writeFilesAtomic(out, files));
  return { files: Object.keys(files).sort(), modelBytes: partsLength(result.files["model.onnx"]) };
}

/** A checkpoint's weights, refused when it was trained from another model (training settings may differ). */
function checkpointForSpec(path: string, spec: Spec): ReturnType<typeof checkpointWeights> {
  const ckpt = readCheckpoint(path);
  if (ckpt.metadata.spec) {
    const conflicts = specConflicts(JSON.parse(ckpt.metadata.spec) as Spec, spec, (p) => p.startsWith("/train/"));
    if (conflicts.length) {
      throw new UserError(`${path} was trained from another model (${conflicts.slice(0, 5).join("; ")}${conflicts.length > 5 ? "; …" : ""}); compile the spec it was trained with`, 1);
    }
  }
  return checkpointWeights(ckpt);
}

/**
 * A model folder's model compiled again with other options (another opset, debug outputs), from the
 * checkpoint its weights came from: a run's best checkpoint or a compiled folder's initial one. The
 * checkpoint is proven by rebuilding the folder's own model.onnx from it byte for byte; undefined when no
 * checkpoint there does.
 */
export function rebuildFromCheckpoint(dir: string, manifest: Manifest, change: { opset?: number; debugOutputs?: boolean }): CompiledInference | undefined {
  const candidates = [join(dir, "checkpoints", "best.safetensors"), join(dir, "checkpoint.safetensors")].filter((p) => existsSync(p));
  const recorded = compileOptionsOf(manifest);
  for (const path of candidates) {
    let proven: ReturnType<typeof checkpointWeights>;
    try {
      proven = checkpointWeights(readCheckpoint(path));
    } catch {
      continue; // damaged or not a checkpoint of this model: it proves nothing
    }
    const { weights, data } = proven;
    const again = compileInference(manifest.spec, { ...recorded, opset: manifest.opset, data, weights });
    if (sha256(again.files["model.onnx"]) !== manifest.files.model_sha256) continue;
    return compileInference(manifest.spec, { ...recorded, opset: change.opset ?? manifest.opset, debugOutputs: change.debugOutputs ?? recorded.debugOutputs, data, weights });
  }
  return undefined;
}

/** The compile options a manifest records: per-gate dispatch overrides and debug outputs. */
function compileOptionsOf(m: Manifest): { dispatch?: DispatchMode; debugOutputs: boolean } {
  const gates = m.spec.gates.filter((g) => g.type === "topk");
  const modes = new Set(Object.values(m.dispatch));
  const asDeclared = gates.every((g) => m.dispatch[g.name] === g.dispatch);
  return { ...(!asDeclared && modes.size === 1 ? { dispatch: [...modes][0] } : {}), debugOutputs: m.outputs.some((o) => o.name.startsWith("debug.")) };
}

/**
 * A session of a folder's model with the routers' debug outputs: the model itself when it has them, else
 * the model rebuilt with them from its checkpoint; without one, the plain model and a note saying why.
 */
export async function withRouterOutputs(modelPath: string, manifest: Manifest, options: SessionOptions): Promise<{ session: ort.InferenceSession; manifest: Manifest; note?: string }> {
  const wanted = manifest.spec.gates.length > 0 && !manifest.outputs.some((o) => o.name.startsWith("debug."));
  const rebuilt = wanted ? rebuildFromCheckpoint(dirname(modelPath), manifest, { debugOutputs: true }) : undefined;
  if (rebuilt) return { session: await createSession(rebuilt.files["model.onnx"], options), manifest: rebuilt.manifest };
  return {
    session: await createSession(modelPath, options), manifest,
    ...(wanted ? { note: "router statistics: not available — no checkpoint beside the model rebuilds it; compile it with --debug-outputs" } : {}),
  };
}
