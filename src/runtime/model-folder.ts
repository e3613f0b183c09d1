import { existsSync } from "node:fs";
import { join } from "node:path";
import { compileInference } from "../compiler/inference.js";
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
  const files: Record<string, Uint8Array | string> = { ...result.files, "manifest.json": JSON.stringify(result.manifest, null, 2) + "\n" };
  if (options.trainStep ?? true) {
    const step = compileTrainStep(spec, { opset, dispatch: options.dispatch, ...(trained ? { data: trained.data } : {}) });
    files["train_step.onnx"] = step.model;
    files["train_step.json"] = JSON.stringify(step.signature, null, 2) + "\n";
    if (!options.checkpoint) files["checkpoint.safetensors"] = Buffer.concat(checkpointChunks(initialCheckpoint(spec, step, emptyModelData())));
  }
  await withSignalGuard(() => writeFilesAtomic(out, files));
  return { files: Object.keys(files).sort(), modelBytes: result.files["model.onnx"].length };
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
