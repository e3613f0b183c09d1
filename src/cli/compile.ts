import type { Command } from "commander";
import { Option } from "commander";
import { compileInference } from "../compiler/inference.js";
import { DEFAULT_OPSET, supportedOpsets } from "../onnx/opset.js";
import { writeFilesAtomic, withSignalGuard } from "../runtime/output.js";
import { compileSpecFile } from "../spec/load.js";
import { printDiagnostics, UsageError } from "./output.js";

export function registerCompile(program: Command): void {
  program
    .command("compile")
    .description("compile a spec to <dir>/model.onnx and <dir>/manifest.json")
    .argument("<spec>", "a .mdr or .json spec")
    .requiredOption("-o, --out <dir>", "output directory")
    .addOption(new Option("--opset <n>", "ONNX opset").choices(supportedOpsets.map(String)).default(String(DEFAULT_OPSET)))
    .addOption(new Option("--dispatch <mode>", "top-k dispatch for every routed gate (default: each gate's own)").choices(["sparse", "dense"]))
    .option("--debug-outputs", "also output router probabilities and selected experts per row")
    .action(async (path: string, opts: { out: string; opset: string; dispatch?: "sparse" | "dense"; debugOutputs?: boolean }) => {
      const compiled = compileSpecFile(path);
      printDiagnostics([{ file: path, diagnostics: compiled.diagnostics }], "text");
      if (!compiled.spec) throw new UsageError(`${path} has errors; nothing was written`, 1);
      const spec = compiled.spec;
      const result = compileInference(spec, { opset: Number(opts.opset), dispatch: opts.dispatch, debugOutputs: opts.debugOutputs });
      await withSignalGuard(() => writeFilesAtomic(opts.out, { ...result.files, "manifest.json": JSON.stringify(result.manifest, null, 2) + "\n" }));
      const kb = (result.files["model.onnx"].length / 1024).toFixed(1);
      process.stderr.write(`compiled ${spec.model} → ${opts.out}/model.onnx (${kb} KiB, opset ${opts.opset}) and manifest.json\n`);
    });
}
