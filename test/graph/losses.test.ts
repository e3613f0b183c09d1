import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { binaryCrossEntropy, loadBalanceLoss, mutualInformationLoss } from "../../src/graph/losses.js";
import { Graph } from "../../src/graph/ops.js";
import { emitModel } from "../../src/onnx/emit.js";

const probs = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]];
const domain = [0, 1, 0, 1];
const selected = [[0, 1], [1, 0], [0, 1], [2, 0]];

async function run(build: (g: Graph, p: ReturnType<Graph["input"]>, d: ReturnType<Graph["input"]>, s: ReturnType<Graph["input"]>) => ReturnType<Graph["input"]>): Promise<number> {
  const g = new Graph(17, true);
  const p = g.input("p", "float32", [4, 3]);
  const d = g.input("d", "int64", [4]);
  const s = g.input("s", "int64", [4, 2]);
  g.output(build(g, p, d, s), "loss");
  const session = await ort.InferenceSession.create(Buffer.from(emitModel(g, { producerVersion: "test" }).model));
  const out = await session.run({
    p: new ort.Tensor("float32", Float32Array.from(probs.flat()), [4, 3]),
    d: new ort.Tensor("int64", BigInt64Array.from(domain.map(BigInt)), [4]),
    s: new ort.Tensor("int64", BigInt64Array.from(selected.flat().map(BigInt)), [4, 2]),
  });
  return (out.loss.data as Float32Array)[0];
}

test("mutual-information loss equals −I(E;D) computed by hand from the joint table", async () => {
  // M[d,e] = Σ_{rows of d} p_e / B with B = 4.
  const M = [[0, 0, 0], [0, 0, 0]];
  probs.forEach((p, i) => p.forEach((v, e) => (M[domain[i]][e] += v / 4)));
  const pd = M.map((r) => r.reduce((a, b) => a + b, 0));
  const pe = [0, 1, 2].map((e) => M[0][e] + M[1][e]);
  let mi = 0;
  M.forEach((r, d) => r.forEach((m, e) => (mi += m * Math.log(m / (pd[d] * pe[e])))));
  assert.ok(mi > 0.05, "the example has real dependence between domain and expert");
  const got = await run((g, p, d) => mutualInformationLoss(g, p, d, 2));
  assert.ok(Math.abs(got - -mi) < 1e-6, `graph ${got}, by hand ${-mi}`);
});

test("load-balance loss equals E · Σ f_e · P_e by hand", async () => {
  const counts = [0, 0, 0];
  selected.flat().forEach((e) => counts[e]++);
  const f = counts.map((c) => c / 8);
  const P = [0, 1, 2].map((e) => probs.reduce((a, p) => a + p[e], 0) / 4);
  const expected = 3 * f.reduce((a, fe, e) => a + fe * P[e], 0);
  const got = await run((g, p, _d, s) => loadBalanceLoss(g, p, s, 3));
  assert.ok(Math.abs(got - expected) < 1e-6, `graph ${got}, by hand ${expected}`);
});

test("binary cross-entropy from logits is stable and equals −y log σ(z) − (1−y) log(1−σ(z))", async () => {
  const g = new Graph(17, true);
  const z = g.input("z", "float32", [4]);
  const y = g.input("y", "float32", [4]);
  g.output(binaryCrossEntropy(g, z, y), "bce");
  const session = await ort.InferenceSession.create(Buffer.from(emitModel(g, { producerVersion: "test" }).model));
  const zs = [-3, 0.5, 40, -60];
  const ys = [1, 0, 0, 1];
  const out = (await session.run({ z: new ort.Tensor("float32", Float32Array.from(zs), [4]), y: new ort.Tensor("float32", Float32Array.from(ys), [4]) })).bce.data as Float32Array;
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  assert.ok(Math.abs(out[0] - -Math.log(sig(-3))) < 1e-5);
  assert.ok(Math.abs(out[1] - -Math.log(1 - sig(0.5))) < 1e-5);
  assert.ok(Math.abs(out[2] - 40) < 1e-4, "large logits do not overflow");
  assert.ok(Math.abs(out[3] - 60) < 1e-4);
});
