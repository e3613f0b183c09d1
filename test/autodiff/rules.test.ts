import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { backprop } from "../../src/autodiff/backprop.js";
import { gradRules } from "../../src/autodiff/rules.js";
import { prng } from "../../src/graph/init.js";
import { Graph } from "../../src/graph/ops.js";
import type { Tensor } from "../../src/graph/tensor.js";
import { emitModel } from "../../src/onnx/emit.js";

interface Case {
  op: string;
  /** Shapes of the differentiable inputs. */
  shapes: number[][];
  build: (g: Graph, xs: Tensor[]) => Tensor;
  /** Draws input values (default: uniform ±1 kept ≥ 0.1 away from 0, so kinks are not straddled). */
  values?: (rnd: () => number, i: number) => number;
}

const away = (rnd: () => number) => {
  const v = rnd() * 2 - 1;
  return v >= 0 ? v + 0.1 : v - 0.1;
};
const positive = (rnd: () => number) => 0.5 + rnd();

/** Every rule in the table is exercised on random shapes, broadcasting included. */
const cases: Case[] = [
  { op: "Identity", shapes: [[3, 2]], build: (g, [a]) => g.identity(a) },
  { op: "Add", shapes: [[2, 3], [3]], build: (g, [a, b]) => g.add(a, b) },
  { op: "Sub", shapes: [[2, 1, 3], [4, 1]], build: (g, [a, b]) => g.sub(a, b) },
  { op: "Mul", shapes: [[2, 3], [2, 1]], build: (g, [a, b]) => g.mul(a, b) },
  { op: "Div", shapes: [[2, 3], [3]], build: (g, [a, b]) => g.div(a, b), values: (r, i) => (i >= 6 ? positive(r) : away(r)) },
  { op: "Neg", shapes: [[4]], build: (g, [a]) => g.neg(a) },
  { op: "MatMul", shapes: [[3, 4], [4, 2]], build: (g, [a, b]) => g.matmul(a, b) },
  { op: "MatMul", shapes: [[2, 3, 4], [2, 4, 5]], build: (g, [a, b]) => g.matmul(a, b) },
  { op: "MatMul", shapes: [[2, 1, 3], [2, 3, 2]], build: (g, [a, b]) => g.matmul(a, b) },
  { op: "MatMul", shapes: [[2, 3, 4], [4, 2]], build: (g, [a, b]) => g.matmul(a, b) },
  { op: "Relu", shapes: [[3, 3]], build: (g, [a]) => g.relu(a) },
  { op: "LeakyRelu", shapes: [[3, 3]], build: (g, [a]) => g.leakyRelu(a, 0.2) },
  { op: "Elu", shapes: [[3, 3]], build: (g, [a]) => g.elu(a, 1.3) },
  { op: "Sigmoid", shapes: [[5]], build: (g, [a]) => g.sigmoid(a) },
  { op: "Tanh", shapes: [[5]], build: (g, [a]) => g.tanh(a) },
  { op: "Exp", shapes: [[5]], build: (g, [a]) => g.exp(a) },
  { op: "Log", shapes: [[5]], build: (g, [a]) => g.log(a), values: positive },
  { op: "Sqrt", shapes: [[5]], build: (g, [a]) => g.sqrt(a), values: positive },
  { op: "Erf", shapes: [[5]], build: (g, [a]) => g.erf(a) },
  { op: "Softplus", shapes: [[5]], build: (g, [a]) => g.softplus(a) },
  { op: "Abs", shapes: [[5]], build: (g, [a]) => g.abs(a) },
  { op: "Max", shapes: [[2, 3], [3]], build: (g, [a, b]) => g.max(a, b), values: (r, i) => (i < 6 ? away(r) : away(r) * 0.05) },
  { op: "Min", shapes: [[2, 3], [3]], build: (g, [a, b]) => g.min(a, b), values: (r, i) => (i < 6 ? away(r) : away(r) * 0.05) },
  { op: "Softmax", shapes: [[3, 4]], build: (g, [a]) => g.softmax(a) },
  { op: "Where", shapes: [[2, 3], [3]], build: (g, [a, b]) => g.where(g.greater(a, g.scalar(0)), a, b) },
  { op: "Cast", shapes: [[3]], build: (g, [a]) => g.add(g.cast(g.cast(a, "int64"), "float32"), a) },
  { op: "Reshape", shapes: [[2, 6]], build: (g, [a]) => g.reshape(a, [3, 4]) },
  { op: "Flatten", shapes: [[2, 2, 3]], build: (g, [a]) => g.flatten2d(a) },
  { op: "Transpose", shapes: [[2, 3, 4]], build: (g, [a]) => g.transpose(a, [2, 0, 1]) },
  { op: "Unsqueeze", shapes: [[2, 3]], build: (g, [a]) => g.unsqueeze(a, [0, 3]) },
  { op: "Squeeze", shapes: [[2, 1, 3]], build: (g, [a]) => g.squeeze(a, [1]) },
  { op: "Expand", shapes: [[1, 3]], build: (g, [a]) => g.expand(a, g.ints([4, 3]), [4, 3]) },
  { op: "ReduceSum", shapes: [[2, 3, 4]], build: (g, [a]) => g.reduceSum(a, [0, 2]) },
  { op: "ReduceSum", shapes: [[2, 3, 4]], build: (g, [a]) => g.reduceSum(a, [-1], true) },
  { op: "ReduceMean", shapes: [[2, 3, 4]], build: (g, [a]) => g.reduceMean(a, [1]) },
  { op: "ReduceMean", shapes: [[2, 3, 4]], build: (g, [a]) => g.reduceMean(a, [0, 2], true) },
  { op: "Concat", shapes: [[2, 3], [2, 1]], build: (g, [a, b]) => g.concat([a, b], 1) },
  { op: "Split", shapes: [[4, 3]], build: (g, [a]) => { const [p, q] = g.split(a, 2); return g.add(g.mul(p, g.scalar(2)), q); } },
  { op: "Split", shapes: [[5, 2]], build: (g, [a]) => g.splitBy(a, g.ints([3, 0, 2]), 3, [3, 0, 2])[2] },
  { op: "Gather", shapes: [[4, 3]], build: (g, [a]) => g.gather(a, g.ints([3, 0, 3, 1], [2, 2])) },
  { op: "GatherElements", shapes: [[3, 4]], build: (g, [a]) => g.gatherElements(a, g.ints([0, 3, 3, 1, 2, 2], [3, 2]), 1) },
  { op: "TopK", shapes: [[3, 5]], build: (g, [a]) => g.topK(a, 2)[0] },
  { op: "LayerNormalization", shapes: [[3, 4], [4], [4]], build: (g, [x, s, b]) => g.layerNorm(x, s, b) },
];

async function run(bytes: Uint8Array, feeds: Record<string, Float32Array>, shapes: number[][]) {
  const s = await ort.InferenceSession.create(Buffer.from(bytes));
  return async (values: Float32Array[]) => {
    const f: Record<string, ort.Tensor> = {};
    values.forEach((v, i) => (f[`x${i}`] = new ort.Tensor("float32", v, shapes[i])));
    void feeds;
    return s.run(f);
  };
}

test("every gradient rule has a case here", () => {
  const covered = new Set(cases.map((c) => c.op));
  const missing = Object.keys(gradRules).filter((op) => !covered.has(op));
  assert.deepEqual(missing, []);
});

for (const [ci, c] of cases.entries()) {
  test(`${c.op} gradient #${ci} matches central finite differences (shapes ${c.shapes.map((s) => `[${s}]`).join(" ")})`, async () => {
    const g = new Graph(17, true);
    const xs = c.shapes.map((shape, i) => g.input(`x${i}`, "float32", shape));
    const y = c.build(g, xs);
    // A random linear functional of the output makes every output element matter.
    const rnd = prng(ci, "weights");
    const size = (y.shape as number[]).reduce((a, b) => a * b, 1);
    const r = g.floats(Array.from({ length: size }, () => rnd() * 2 - 1), y.shape as number[]);
    const loss = g.reduceSum(g.reshape(g.mul(y, r), [-1]), [0]);
    g.output(loss, "loss");
    const grads = backprop(g, loss, xs);
    xs.forEach((x, i) => g.output(grads.get(x.name)!, `grad${i}`));
    const bytes = emitModel(g, { producerVersion: "test" }).model;
    const exec = await run(bytes, {}, c.shapes);

    const vr = prng(ci, "values");
    let k = 0;
    const values = c.shapes.map((shape) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (c.values ?? away)(vr, k++)));
    const out = await exec(values);
    const eps = 1e-2;
    values.forEach((v, i) => {
      const analytic = out[`grad${i}`].data as Float32Array;
      assert.equal(analytic.length, v.length, "gradient has the input's shape");
      return Promise.all([]);
    });
    for (let i = 0; i < values.length; i++) {
      const analytic = out[`grad${i}`].data as Float32Array;
      for (let j = 0; j < values[i].length; j++) {
        const plus = values.map((v) => v.slice());
        const minus = values.map((v) => v.slice());
        plus[i][j] += eps;
        minus[i][j] -= eps;
        const fp = ((await exec(plus)).loss.data as Float32Array)[0];
        const fm = ((await exec(minus)).loss.data as Float32Array)[0];
        const numeric = (fp - fm) / (2 * eps);
        assert.ok(Math.abs(numeric - analytic[j]) <= 2e-3 + 2e-2 * Math.abs(numeric),
          `input ${i} element ${j}: finite difference ${numeric}, gradient ${analytic[j]}`);
      }
    }
  });
}
