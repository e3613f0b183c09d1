import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { backprop } from "../../src/autodiff/backprop.js";
import { compileRetrievalInference, compileRetrievalTrainStep, ITEM_KEY_INPUT, ITEM_LOG_Q_INPUT } from "../../src/compiler/retrieval.js";
import { Graph } from "../../src/graph/ops.js";
import { embeddingTable } from "../../src/graph/names.js";
import { buildTower, sampledSoftmaxLoss } from "../../src/graph/retrieval.js";
import { emitModel } from "../../src/onnx/emit.js";
import { resolve } from "../../src/plan/resolve.js";
import { encodeBatch } from "../../src/runtime/batch.js";
import { initialStepState, runTrainStep } from "../../src/runtime/step-runner.js";
import { readItemCatalog, readQueryRows, towerColumns } from "../../src/runtime/retrieval-data.js";
import { encodeTowers } from "../../src/runtime/retrieval-train.js";
import { fieldsSpec, sideSpec } from "../../src/spec/retrieval.js";
import { SIDES, type RetrievalSpec } from "../../src/spec/types.js";
import { syntheticData, randomRows } from "../helpers/models.js";
import { codes, compileText } from "../helpers/specs.js";
import { domainIdsOf } from "../helpers/train.js";
import { referenceForward, type Row, type Weights } from "../reference/model.js";
import { joinParts } from "../../src/onnx/emit.js";

const specText = (queryExtra = "", itemExtra = "", model = "") => `
model two_towers {
  task: retrieval
  domain d { column: "d", values: [a, b, c], unknown: fallback, fallback: c }
  query {
    features {
      categorical user { column: "u", dim: 4 }
      numeric age { column: "age" }
    }
    experts s { scope: shared, count: 1, layers: [8] }
    experts r { scope: routed, count: 3, layers: [8] }
    gate g { per: all, pools: [r], type: topk, k: 2, inputs: [features, domain], always_on: [s] }
    tower qt { per: domain, input: g, layers: [6] }
    ${queryExtra}
  }
  item {
    id: "i"
    features {
      categorical item { column: "i", dim: 4 }
      multi_categorical tags { column: "t", separator: "|", dim: 3 }
    }
    tower it { per: shared, input: features, layers: [6] }
    ${itemExtra}
  }
  embedding { dim: 5, temperature: 0.2 }
  loss { softmax: 1, mutual_information: 0.1, load_balance: 0.1 }
  ${model}
}`;

function compiled(text = specText()): RetrievalSpec {
  const c = compileText(text);
  assert.deepEqual(c.diagnostics.filter((d) => d.severity === "error").map((d) => d.message), []);
  return c.retrieval!.spec;
}

/**
 * The loss by hand: scores q·v / τ − log Q(column) over the batch's items and any extra negatives (the
 * columns past n), other columns holding a row's own item masked, −log softmax at the row's own column.
 */
function referenceLoss(q: Float32Array, v: Float32Array, n: number, dim: number, tau: number, keys: number[], logQ: number[]): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const s: number[] = [];
    for (let j = 0; j < keys.length; j++) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += q[i * dim + k] * v[j * dim + k];
      s.push(j !== i && keys[j] === keys[i] ? -Infinity : dot / tau - logQ[j]);
    }
    const m = Math.max(...s);
    const lse = m + Math.log(s.reduce((a, x) => a + Math.exp(x - m), 0));
    total += lse - s[i];
  }
  return total / n;
}

test("sampled softmax with logQ and extra negatives: forward equals a hand computation and gradients equal finite differences", async () => {
  const n = 6;
  const m = 9; // three extra negatives, one of them row 2's own item
  const dim = 3;
  const tau = 0.5;
  const keys = [0, 1, 2, 1, 3, 0, 7, 2, 8]; // rows 1 and 3 share an item, as do 0 and 5
  const logQ = [-1.2, -0.7, -2.3, -0.7, -1.9, -1.2, -3, -3, -3];
  const g = new Graph(17, true);
  const q = g.input("q", "float32", ["N", dim]);
  const v = g.input("v", "float32", ["M", dim]);
  const key = g.input("key", "int64", ["M"]);
  const lq = g.input("logq", "float32", ["M"]);
  const loss = g.reduceMean(sampledSoftmaxLoss(g, q, v, g.scalar(1 / tau), key, lq), [0]);
  g.output(loss, "loss");
  const grads = backprop(g, loss, [q, v]);
  g.output(grads.get("q")!, "dq");
  g.output(grads.get("v")!, "dv");
  const session = await ort.InferenceSession.create(Buffer.from(emitModel(g, { producerVersion: "test" }).model));
  const rnd = (i: number) => Math.sin(i * 12.9898) * 1.3;
  const Q = Float32Array.from({ length: n * dim }, (_, i) => rnd(i + 1));
  const V = Float32Array.from({ length: m * dim }, (_, i) => rnd(i + 100));
  const out = await session.run({
    q: new ort.Tensor("float32", Q, [n, dim]), v: new ort.Tensor("float32", V, [m, dim]),
    key: new ort.Tensor("int64", BigInt64Array.from(keys.map(BigInt)), [m]), logq: new ort.Tensor("float32", Float32Array.from(logQ), [m]),
  });
  const ref = (a: Float32Array, b: Float32Array) => referenceLoss(a, b, n, dim, tau, keys, logQ);
  assert.ok(Math.abs((out.loss.data as Float32Array)[0] - ref(Q, V)) < 1e-4, `${(out.loss.data as Float32Array)[0]} vs ${ref(Q, V)}`);
  const h = 1e-3;
  for (const [name, x, grad] of [["q", Q, out.dq.data], ["v", V, out.dv.data]] as const) {
    for (let i = 0; i < x.length; i++) {
      const plus = Float64Array.from(x);
      const minus = Float64Array.from(x);
      plus[i] += h;
      minus[i] -= h;
      const args = (t: Float64Array) => (name === "q" ? ref(Float32Array.from(t), V) : ref(Q, Float32Array.from(t)));
      const fd = (args(plus) - args(minus)) / (2 * h);
      assert.ok(Math.abs(fd - (grad as Float32Array)[i]) < 2e-3 * Math.max(1, Math.abs(fd)), `d${name}[${i}]: graph ${(grad as Float32Array)[i]}, finite differences ${fd}`);
    }
  }
});

test("query and item models equal the plain-TS reference tower, normalised", async () => {
  const r = compiled();
  const data = syntheticData(fieldsSpec(r));
  const { files, manifest } = compileRetrievalInference(r, { data });
  const rows = randomRows(fieldsSpec(r), data, 40, 9).map((row): Row => ({ ...row, d: row.d === "undeclared" ? "c" : row.d }));
  for (const side of SIDES) {
    const spec = sideSpec(r, side);
    const g = new Graph(17, false);
    buildTower(g, side, resolve(spec, { data }), data, { opset: 17 }, r.embedding);
    const weights: Weights = new Map(g.initializers.map((i) => [i.name, { shape: [...i.shape], data: i.data as Float32Array }]));
    const session = await ort.InferenceSession.create(Buffer.from(joinParts(files[`${side}_model.onnx`])));
    const out = (await session.run(encodeBatch(manifest[side], rows.map((values, i) => ({ values, line: i + 2 })), "test"))).embedding.data as Float32Array;
    rows.forEach((row, i) => {
      const t = referenceForward(spec, weights, data, row).tower;
      const norm = Math.sqrt(t.reduce((a, x) => a + x * x, 0));
      t.forEach((x, k) => assert.ok(Math.abs(out[i * 5 + k] - x / norm) < 1e-4, `${side} row ${i}[${k}]: ${out[i * 5 + k]} vs ${x / norm}`));
    });
  }
});

test("the train step's softmax loss (with extra negatives) equals the loss computed from the exported towers on the same weights", async () => {
  const r = compiled();
  const fields = fieldsSpec(r);
  const data = syntheticData(fields);
  const step = compileRetrievalTrainStep(r, { data });
  const session = await ort.InferenceSession.create(Buffer.from(step.model), { intraOpNumThreads: 1 });
  const state = initialStepState(fields, step, data);
  const rows = randomRows(fields, data, 24, 4).map((row): Row => ({ ...row, d: row.d === "undeclared" ? "c" : row.d }));
  const raw = rows.map((values, i) => ({ values, line: i + 2, domain: domainIdsOf(fields, [values])[0], label: 1 }));
  const negatives = randomRows(fields, data, 5, 8).map((values, i) => ({ values, line: i + 100 }));
  const keysOf = new Map<string, number>();
  const keys = [...rows, ...negatives.map((n) => n.values)].map((row) => keysOf.get(String(row.i)) ?? keysOf.set(String(row.i), keysOf.size).get(String(row.i))!);
  const logQ = keys.map((_, i) => -1 - (i % 5) * 0.3);
  const extra = { [ITEM_KEY_INPUT]: new ort.Tensor("int64", BigInt64Array.from(keys.map(BigInt)), [keys.length]), [ITEM_LOG_Q_INPUT]: new ort.Tensor("float32", Float32Array.from(logQ), [keys.length]) };
  // Embeddings from the exported models, with the weights the step starts from (checked before it updates them).
  const { files, manifest } = compileRetrievalInference(r, { data });
  const embed = async (side: "query" | "item", of: typeof negatives) => (await (await ort.InferenceSession.create(Buffer.from(joinParts(files[`${side}_model.onnx`])))).run(encodeBatch(manifest[side], of, "test"))).embedding.data as Float32Array;
  const expected = referenceLoss(await embed("query", raw), await embed("item", [...raw, ...negatives]), rows.length, 5, 0.2, keys, logQ);
  // Router noise is off in this spec, so the step's forward is the exported models' forward.
  const encoded = encodeTowers(r, step.signature, state.store, raw, negatives, "test", 1);
  const result = await runTrainStep(session, fields, step, state, { batch: { encoded }, extra, lr: 0.01, embeddingLr: 0.01, step: 1, seed: 1, file: "test" });
  assert.ok(Math.abs(result.terms.softmax - expected) < 1e-4, `step ${result.terms.softmax} vs exported ${expected}`);
  assert.ok(result.terms.mutual_information !== undefined && result.terms.load_balance !== undefined);
});

test("the checker keeps the towers apart and the item tower free of the domain", () => {
  const cross = compileText(specText("", "", "").replace("tower it { per: shared, input: features", "tower it { per: shared, input: g"));
  assert.ok(cross.diagnostics.some((d) => d.message.includes("'g' is a component of the query tower")), JSON.stringify(cross.diagnostics.map((d) => d.message)));
  const domainInItem = compileText(specText("", "gate ig { per: domain, pools: [ip] }\n experts ip { scope: shared, count: 2, layers: [4] }").replace("input: features, layers: [6] }\n    gate", "input: ig, layers: [6] }\n    gate"));
  assert.ok(domainInItem.diagnostics.some((d) => d.message.includes("is per domain, in the item tower")), JSON.stringify(domainInItem.diagnostics.map((d) => d.message)));
  const sameName = compileText(specText().replace("categorical item { column", "categorical user { column"));
  assert.ok(sameName.diagnostics.some((d) => d.message.includes("'user' is already a name in the query tower")));
  const topLevel = compileText(specText("", "", "features { numeric x { column: \"x\" } }"));
  assert.ok(topLevel.diagnostics.some((d) => d.message.includes("belongs to a tower, not to the model")));
  const metric = compileText(specText("", "", "train { early_stopping { metric: auc } }"));
  assert.ok(metric.diagnostics.some((d) => d.message.includes("'auc' is a ranking metric")));
  assert.ok(codes(compileText(specText().replace("id: \"i\"", ""))).length > 0, "an item tower without `id` is refused");
  for (const c of [cross, domainInItem, sameName, topLevel, metric]) for (const d of c.diagnostics) assert.ok(d.span, `${d.message} has a position`);
});

test("bad retrieval data gets the same positioned errors as ranking", async () => {
  const r = compiled(specText().replace("unknown: fallback, fallback: c", "unknown: error"));
  const { manifest } = compileRetrievalInference(r, { data: syntheticData(fieldsSpec(r)) });
  const dir = mkdtempSync(join(tmpdir(), "mdr-retrieval-"));
  writeFileSync(join(dir, "items.csv"), "i\ni1\ni2\n");
  await assert.rejects(readItemCatalog(join(dir, "items.csv"), "i", towerColumns(manifest.item, "item")), /items\.csv.*missing column 't'/);
  writeFileSync(join(dir, "queries.csv"), "u,age,d\nu1,3,a\nu2,4,zz\n");
  await assert.rejects(readQueryRows(join(dir, "queries.csv"), manifest.query), /queries\.csv:3:\d+.*domain value 'zz' is not one of a, b, c/);
});

test("retrieval step: (L(θ+εv) − L(θ−εv)) / 2ε matches ∇L·v for every parameter tensor and the embedding tables of both towers", async () => {
  const r = compiled(specText().replace("embedding { dim: 5, temperature: 0.2 }", "embedding { dim: 5, temperature: 0.2, learn_temperature: true }"));
  const fields = fieldsSpec(r);
  const data = syntheticData(fields);
  const step = compileRetrievalTrainStep(r, { data, gradientsOnly: true });
  const session = await ort.InferenceSession.create(Buffer.from(step.model), { intraOpNumThreads: 1 });
  const state = initialStepState(fields, step, data);
  const rows = randomRows(fields, data, 20, 12).map((values, i) => ({ values: { ...values, d: values.d === "undeclared" ? "a" : values.d } as Row, line: i + 2, label: 1, domain: 0 }));
  rows.forEach((row) => (row.domain = domainIdsOf(fields, [row.values])[0]));
  const negatives = randomRows(fields, data, 4, 13).map((values, i) => ({ values, line: i + 50 }));
  const keys = [...rows.map((x) => x.values), ...negatives.map((x) => x.values)].map((v) => BigInt(Number(String(v.i).replace(/\D/g, "") || 99)));
  const encoded = encodeTowers(r, step.signature, state.store, rows, negatives, "test", 1);
  const feeds: Record<string, ort.Tensor> = {
    ...encoded.feeds,
    [ITEM_KEY_INPUT]: new ort.Tensor("int64", BigInt64Array.from(keys), [keys.length]),
    [ITEM_LOG_Q_INPUT]: new ort.Tensor("float32", Float32Array.from(keys, (_, i) => -1 - (i % 4) * 0.5), [keys.length]),
  };
  for (const [name, v] of state.params) feeds[name] = new ort.Tensor("float32", v, step.initial.get(name)!.shape as number[]);
  if (step.signature.seeded) feeds.seed = new ort.Tensor("float32", new Float32Array([3]), []);
  const run = (name?: string, value?: Float32Array) => session.run(name ? { ...feeds, [name]: new ort.Tensor("float32", value!, feeds[name].dims as number[]) } : feeds);
  const out = await run();
  const names = [...state.params.keys(), ...step.signature.tables.map((t) => embeddingTable(t.name))];
  assert.ok(names.includes("embedding.log_scale"), "the learned temperature is a parameter");
  assert.ok(names.includes(embeddingTable("movie")) || names.includes(embeddingTable("item")), "item tower tables are trained");
  const rnd = (seed: number) => () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const eps = 1e-3;
  for (const [k, n] of names.entries()) {
    const x = feeds[n].data as Float32Array;
    const next = rnd(k + 7);
    const v = Float32Array.from(x, () => next() * 2 - 1);
    const grad = out[`${n}::grad`].data as Float32Array;
    const analytic = v.reduce((a, vi, i) => a + vi * grad[i], 0);
    const at = async (sign: number) => ((await run(n, Float32Array.from(x, (xi, i) => xi + sign * eps * v[i]))).loss.data as Float32Array)[0];
    const numeric = ((await at(1)) - (await at(-1))) / (2 * eps);
    assert.ok(Math.abs(numeric - analytic) <= 2e-3 + 5e-2 * Math.abs(analytic), `${n}: finite difference ${numeric} vs ∇L·v ${analytic}`);
  }
});
