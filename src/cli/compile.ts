import type { Command } from "commander";
import { Option } from "commander";
import { compileSpecFile } from "../compiler/frontend.js";
import { DEFAULT_OPSET, supportedOpsets } from "../onnx/opset.js";
import { compileModelFolder } from "../runtime/model-folder.js";
import { printDiagnostics, UsageError } from "./output.js";
import { compileRetrievalFolder } from "./retrieval.js";

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
      const opset = Number(opts.opset);
      if (compiled.retrieval) {
        if (opts.checkpoint || opts.debugOutputs || opts.dispatch) throw new UsageError("--checkpoint, --debug-outputs and --dispatch apply to ranking models only");
        const files = compileRetrievalFolder(compiled.retrieval, opts.out, { opset, trainStep: opts.trainStep });
        process.stderr.write(`compiled ${compiled.retrieval.spec.model} → ${opts.out}/: ${files.join(", ")} (opset ${opset})\n`);
        return;
      }
      if (!compiled.spec) throw new UsageError(`${path} has errors; nothing was written`, 1);
      const r = await compileModelFolder(compiled.spec, opts.out, { opset, dispatch: opts.dispatch, debugOutputs: opts.debugOutputs, checkpoint: opts.checkpoint, trainStep: opts.trainStep });
      process.stderr.write(`compiled ${compiled.spec.model} → ${opts.out}/: ${r.files.join(", ")} (model.onnx ${(r.modelBytes / 1024).toFixed(1)} KiB, opset ${opset})\n`);
    });
}
