// `npm run bench [-- name…]`: runs the benchmarks, prints their tables, writes bench/results/.
import { benchInference } from "./inference.js";
import { benchParseCheck } from "./parse-check.js";
import { benchTraining } from "./training.js";
import { writeResults } from "./util.js";

/** A suite that measures rows and a summary of ratios, printed and written with its reference points. */
async function suite(name: string, title: string, run: () => Promise<{ rows: Record<string, string | number>[]; summary: Record<string, number> }>, reference: string[]) {
  console.log(`${title}:`);
  const { rows, summary } = await run();
  console.log("summary:");
  for (const [k, v] of Object.entries(summary)) console.log(`  ${k}: ${v}`);
  writeResults(name, rows, ["Summary (batch 4,096, one thread unless named):", "", ...Object.entries(summary).map(([k, v]) => `- ${k}: ${v}`), "", ...reference]);
}

const benches: Record<string, () => void | Promise<void>> = {
  "parse-check": () => {
    const r = benchParseCheck();
    console.log(`parse + check: ${r.specs} specs in ${r.total_ms} ms = ${r.ms_per_spec} ms per spec`);
    writeResults("parse-check", [r], ["Front end only (parse, lower, schema, semantic checks), one process, after a 20-spec warm-up."]);
  },
  inference: () => suite("inference", "inference (ONNX Runtime CPU, raw values in)", benchInference, [
    "Reference points from the issue (PyTorch → torch.onnx.export → onnxruntime-node 1.30, one thread): ~70 µs per single-row call,",
    "142k rows/s dense and 208k rows/s sparse at batch 4,096, 4.2× sparse over dense at 32 experts.",
  ]),
  training: () => suite("training", "training steps (host batch encoding + ONNX Runtime step + rows written back)", benchTraining, [
    "Reference from the issue: PyTorch eager trains cesaa_small at ~39k rows/s dense and ~75k rows/s sparse (Adam, batch 4,096, one thread).",
  ]),
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length === 0 || wanted.includes(name)) await run();
}
