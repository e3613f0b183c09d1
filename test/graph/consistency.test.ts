import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { compileInference } from "../../src/compiler/inference.js";
import { embeddingTable } from "../../src/graph/names.js";
import { encodeBatch, type RawRow } from "../../src/runtime/batch.js";
import { randomRows, syntheticData } from "../helpers/models.js";
import { compileText, everyFieldKind } from "../helpers/specs.js";
import { trainHarness } from "../helpers/train.js";
import { joinParts } from "../../src/onnx/emit.js";

// Hashed, range, shared-table and multi-valued fields, every numeric transform, a STAR layer (without
// partitioned normalisation, whose batch statistics differ from the running ones by design) and gates.
const spec = compileText(`
model consistent {
${everyFieldKind}  experts base { count: 2, layers: [6] }
  experts routed { scope: routed, count: 4, layers: [6] }
  gate router { per: all, pools: [routed], type: topk, k: 2, always_on: [base] }
  star s { input: router, layers: [5], partitioned_norm: false, aux_layers: [3] }
  tower { per: domain, input: s, layers: [4] }
}
`).spec!;

function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.equal(a.length, b.length);
  assert.ok(worst < 1e-5, `${what}: max difference ${worst}`);
}

test("the training step's forward and the inference model give the same logits on the same weights and rows", async () => {
  const data = syntheticData(spec);
  const rows = randomRows(spec, data, 300, 4);
  const h = await trainHarness(spec, data, rows, { seed: 9, gradientsOnly: true });
  const trainLogit = (await h.run()).logit.data as Float32Array;
  // The inference model with the harness's dense weights and the store's full tables.
  const weights = new Map(h.params);
  for (const t of h.store.tables.values()) weights.set(embeddingTable(t.name), t.values);
  const { files, manifest } = compileInference(spec, { data, weights });
  const session = await ort.InferenceSession.create(Buffer.from(joinParts(files["model.onnx"])), { intraOpNumThreads: 1 });
  const raw: RawRow[] = rows.map((values, i) => ({ values, line: i + 2 }));
  const inferLogit = (await session.run(encodeBatch(manifest, raw, "test"))).logit.data as Float32Array;
  close(trainLogit, inferLogit, "train-step forward vs inference");
});

test("opset 17 (multi-valued cells split on the host) and opset 20 (split in the graph) agree", async () => {
  const data = syntheticData(spec);
  const rows = randomRows(spec, data, 300, 5);
  const raw: RawRow[] = rows.map((values, i) => ({ values, line: i + 2 }));
  const probabilities = async (opset: number) => {
    const { files, manifest } = compileInference(spec, { data, opset });
    const session = await ort.InferenceSession.create(Buffer.from(joinParts(files["model.onnx"])), { intraOpNumThreads: 1 });
    return { p: (await session.run(encodeBatch(manifest, raw, "test"))).probability.data as Float32Array, manifest };
  };
  const a = await probabilities(17);
  const b = await probabilities(20);
  assert.deepEqual(a.manifest.inputs.find((i) => i.name === "bag")!.shape, ["N", "L_bag"]);
  assert.deepEqual(b.manifest.inputs.find((i) => i.name === "bag")!.shape, ["N"]);
  close(a.p, b.p, "opset 17 vs 20");
});
