import type { Command } from "commander";
import { Option } from "commander";
import { compileInference } from "../compiler/inference.js";
import { DEFAULT_OPSET, supportedOpsets } from "../onnx/opset.js";
import { writeFilesAtomic, withSignalGuard } from "../runtime/output.js";
import { compileTrainStep } from "../compiler/train-step.js";
import { emptyModelData } from "../plan/model-data.js";
import { checkpointChunks, readCheckpoint } from "../runtime/checkpoint.js";
import { checkpointWeights, initialCheckpoint } from "../runtime/checkpoint-layout.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { RUN_FILE, specConflicts } from "../runtime/run-folder.js";
import { compileSpecFile } from "../compiler/frontend.js";
import type { Spec } from "../spec/types.js";
import { printDiagnostics, UsageError } from "./output.js";

/** A checkpoint's weights, refused when it was trained from another model (training settings may differ). */
function checkpointForSpec(path: string, spec: Spec): ReturnType<typeof checkpointWeights> {
  const ckpt = readCheckpoint(path);
  if (ckpt.metadata.spec) {
    const conflicts = specConflicts(JSON.parse(ckpt.metadata.spec) as Spec, spec, (p) => p.startsWith("/train/"));
    if (conflicts.length) {
      throw new UsageError(`${path} was trained from another model (${conflicts.slice(0, 5).join("; ")}${conflicts.length > 5 ? "; …" : ""}); compile the spec it was trained with`, 1);
    }
  }
  return checkpointWeights(ckpt);
}

export function registerCompile(program: Command): void {
  program
    .command("compile")
    .description("compile a spec to <dir>/model.onnx and <dir>/manifest.json")
    .argument("<spec>", "a .mdr or .json spec")
    .requiredOption("-o, --out <dir>", "output directory")
    .addOption(new Option("--opset <n>", "ONNX opset").choices(supportedOpsets.map(String)).default(String(DEFAULT_OPSET)))
    .addOption(new Option("--dispatch <mode>", "top-k dispatch for every routed gate (default: each gate's own)").choices(["sparse", "dense"]))
    .option("--debug-outputs", "also output router probabilities and selected experts per row")
    .option("--checkpoint <file>", "take weights, vocabularies and statistics from a training checkpoint")
    .option("--no-train-step", "skip train_step.onnx and the initial checkpoint")
    .action(async (path: string, opts: { out: string; opset: string; dispatch?: "sparse" | "dense"; debugOutputs?: boolean; checkpoint?: string; trainStep: boolean }) => {
      const compiled = compileSpecFile(path);
      printDiagnostics([{ file: path, diagnostics: compiled.diagnostics }], "text");
      if (!compiled.spec) throw new UsageError(`${path} has errors; nothing was written`, 1);
      const spec = compiled.spec;
      const opset = Number(opts.opset);
      const trained = opts.checkpoint ? checkpointForSpec(opts.checkpoint, spec) : undefined;
      const result = compileInference(spec, { opset, dispatch: opts.dispatch, debugOutputs: opts.debugOutputs, ...(trained ?? {}) });
      const files: Record<string, Uint8Array | string> = { ...result.files, "manifest.json": JSON.stringify(result.manifest, null, 2) + "\n" };
      if (opts.trainStep) {
        const step = compileTrainStep(spec, { opset, dispatch: opts.dispatch, ...(trained ? { data: trained.data } : {}) });
        files["train_step.onnx"] = step.model;
        files["train_step.json"] = JSON.stringify(step.signature, null, 2) + "\n";
        if (!opts.checkpoint) files["checkpoint.safetensors"] = Buffer.concat(checkpointChunks(initialCheckpoint(spec, step, emptyModelData())));
      }
      if (existsSync(join(opts.out, RUN_FILE))) {
        throw new UsageError(`${opts.out} holds a training run; compiling into it would replace its trained model — choose another folder`);
      }
      await withSignalGuard(() => writeFilesAtomic(opts.out, files));
      const kb = (result.files["model.onnx"].length / 1024).toFixed(1);
      process.stderr.write(`compiled ${spec.model} → ${opts.out}/: ${Object.keys(files).sort().join(", ")} (model.onnx ${kb} KiB, opset ${opset})\n`);
    });
}
