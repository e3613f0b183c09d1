import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compileInference } from "../../src/compiler/inference.js";
import { compileTrainStep } from "../../src/compiler/train-step.js";
import { compileText, exampleNames, readExample } from "../helpers/specs.js";
import { joinParts } from "../../src/onnx/emit.js";

// The reference ONNX checker is Python's `onnx` (Debian: python3-onnx, which checks up to opset 17).
// Where it is not installed the test is reported as skipped, never as passed.
const python = ["python3", "/usr/bin/python3"].find((py) => spawnSync(py, ["-c", "import onnx"], { encoding: "utf8" }).status === 0);
const hasOnnx = python !== undefined;

const checker = `
import sys, onnx
from onnx import shape_inference
for p in sys.argv[1:]:
    m = onnx.load(p)
    onnx.checker.check_model(m, full_check=True)
    shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
print("ok")
`;

test("every example's inference and train-step models pass the ONNX checker with strict shape inference", { skip: hasOnnx ? false : "python3-onnx is not installed (apt-get install python3-onnx)" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "mdr-check-"));
  const paths: string[] = [];
  for (const name of exampleNames) {
    const spec = compileText(readExample(name)).spec!;
    for (const dispatch of ["sparse", "dense"] as const) {
      const p = join(dir, `${name}-${dispatch}.onnx`);
      writeFileSync(p, joinParts(compileInference(spec, { dispatch, debugOutputs: true }).files["model.onnx"]));
      paths.push(p);
      const t = join(dir, `${name}-${dispatch}-train.onnx`);
      writeFileSync(t, compileTrainStep(spec, { dispatch }).model);
      paths.push(t);
    }
  }
  const r = spawnSync(python!, ["-c", checker, ...paths], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "ok");
});
