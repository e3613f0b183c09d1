import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { Graph } from "../../src/graph/ops.js";
import { emitModel } from "../../src/onnx/emit.js";
import { optimizerUpdate, stateSlots } from "../../src/optim/optimizers.js";
import type { TrainSpec } from "../../src/spec/types.js";

const base: TrainSpec = { optimizer: "adam", lr: 0.01, embedding_lr: 0.01, batch_size: 1, epochs: 1, seed: 0, checkpoint_every: 0, early_stopping: { metric: "auc", patience: 1 } };

/** Hand-written updates, as torch.optim documents them. */
function reference(t: TrainSpec, p: number, g: number, s: number[], lr: number, step: number): { p: number; s: number[] } {
  switch (t.optimizer) {
    case "adam": {
      const m = t.beta1! * s[0] + (1 - t.beta1!) * g;
      const v = t.beta2! * s[1] + (1 - t.beta2!) * g * g;
      const mhat = m / (1 - t.beta1! ** step);
      const vhat = v / (1 - t.beta2! ** step);
      return { p: p - (lr * mhat) / (Math.sqrt(vhat) + t.eps!), s: [m, v] };
    }
    case "adagrad": {
      const sum = s[0] + g * g;
      return { p: p - (lr * g) / (Math.sqrt(sum) + t.eps!), s: [sum] };
    }
    case "sgd": {
      if ((t.momentum ?? 0) > 0) {
        const b = t.momentum! * s[0] + g;
        return { p: p - lr * b, s: [b] };
      }
      return { p: p - lr * g, s: [] };
    }
  }
}

const configs: [string, TrainSpec][] = [
  ["adam", { ...base, optimizer: "adam", beta1: 0.9, beta2: 0.999, eps: 1e-8 }],
  ["adam (β 0.5/0.9, ε 1e-3)", { ...base, optimizer: "adam", beta1: 0.5, beta2: 0.9, eps: 1e-3 }],
  ["adagrad", { ...base, optimizer: "adagrad", eps: 1e-10 }],
  ["sgd", { ...base, optimizer: "sgd", momentum: 0 }],
  ["sgd with momentum", { ...base, optimizer: "sgd", momentum: 0.9 }],
];

for (const [name, train] of configs) {
  test(`${name}: three steps in the graph equal the hand-computed update`, async () => {
    const g = new Graph(17, true);
    const n = 6;
    const slots = stateSlots(train);
    const param = g.input("p", "float32", [n]);
    const grad = g.input("g", "float32", [n]);
    const states = slots.map((s) => g.input(s, "float32", [n]));
    const lr = g.input("lr", "float32", []);
    const step = g.input("step", "float32", []);
    const u = optimizerUpdate(g, train, { param, grad, states, lr, step });
    g.output(u.param, "p_new");
    u.states.forEach((s, i) => g.output(s, `${slots[i]}_new`));
    const session = await ort.InferenceSession.create(Buffer.from(emitModel(g, { producerVersion: "test" }).model));
    let p: Float32Array = Float32Array.from([0.5, -1.2, 3, 0, 0.01, -0.3]);
    let st: Float32Array[] = slots.map(() => new Float32Array(n));
    let ref = Array.from(p, (x) => ({ p: x, s: slots.map(() => 0) }));
    for (let k = 1; k <= 3; k++) {
      const gr = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + k) * (i + 1) * 0.3);
      const feeds: Record<string, ort.Tensor> = {
        p: new ort.Tensor("float32", p, [n]), g: new ort.Tensor("float32", gr, [n]),
        lr: new ort.Tensor("float32", new Float32Array([train.lr]), []), step: new ort.Tensor("float32", new Float32Array([k]), []),
      };
      slots.forEach((s, i) => (feeds[s] = new ort.Tensor("float32", st[i], [n])));
      const out = await session.run(feeds);
      p = out.p_new.data as Float32Array;
      st = slots.map((s) => out[`${s}_new`].data as Float32Array);
      ref = ref.map((r, i) => reference(train, r.p, gr[i], r.s, train.lr, k));
    }
    p.forEach((x, i) => assert.ok(Math.abs(x - ref[i].p) <= 1e-6 + 1e-5 * Math.abs(ref[i].p), `param ${i}: graph ${x}, reference ${ref[i].p}`));
    st.forEach((arr, j) => arr.forEach((x, i) => assert.ok(Math.abs(x - ref[i].s[j]) <= 1e-6 + 1e-5 * Math.abs(ref[i].s[j]), `${slots[j]} ${i}`)));
    assert.ok(Math.abs(p[0] - 0.5) > 1e-4, "the parameters moved");
  });
}
