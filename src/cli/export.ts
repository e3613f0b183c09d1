import type { Command } from "commander";
import { exportTriton } from "../export/triton.js";
import { positiveInt } from "./options.js";

export function registerExport(program: Command): void {
  const exp = program.command("export").description("export a model folder for another serving system");
  exp
    .command("triton")
    .description("write a Triton Inference Server model repository entry (ONNX Runtime backend, dynamic batching)")
    .argument("<model>", "compiled or trained model folder")
    .requiredOption("-o, --out <repository>", "model repository folder; the model goes to <repository>/<name>/")
    .option("--name <name>", "model name in the repository (default: the spec's model name)")
    .option("--max-batch <n>", "max_batch_size in config.pbtxt", positiveInt, 4096)
    .option("--overwrite", "replace a model of that name in the repository")
    .action(async (model: string, o: { out: string; name?: string; maxBatch: number; overwrite?: boolean }) => {
      const r = await exportTriton(model, o.out, { name: o.name, maxBatch: o.maxBatch, overwrite: o.overwrite });
      process.stderr.write(`exported ${r.name} → ${r.folder}/ (config.pbtxt, 1/model.onnx; opset ${r.opset}${r.recompiled ? `; ${r.recompiled}` : ""})\n`);
    });
  exp.exitOverride();
}
