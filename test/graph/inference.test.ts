import assert from "node:assert/strict";
import { test } from "node:test";
import type { Spec } from "../../src/spec/types.js";
import { randomModel, randomRows, runOrt, syntheticData } from "../helpers/models.js";
import { referenceForward } from "../reference/model.js";
import { compileText, everyFieldKind, exampleNames, readExample } from "../helpers/specs.js";

/** Constructs the examples do not use: layer norm, gelu/silu, before-softmax top-k, gated always-on
 * experts, hashed and shared tables, sum pooling, log1p/none, a top-k gate over per-domain experts. */
const kitchenSink = `
model sink {
${everyFieldKind}  experts base { count: 2, layers: [6, 5], activation: gelu, layer_norm: true }
  experts own { scope: per_domain, count: 2, layers: [5], activation: silu }
  gate pick { per: domain, pools: [base, own], type: topk, k: 2, topk_order: before_softmax }
  experts routed { scope: routed, count: 4, layers: [5], input: pick, activation: tanh }
  gate router { per: all, pools: [routed], type: topk, k: 3, renormalize: false, inputs: [domain], always_on: [base], always_on_combine: gate }
  tower { per: domain, input: router, layers: [4], layer_norm: true, activation: elu }
  loss { load_balance: 0.1 }
}
`;

const specs: [string, Spec][] = [
  ...exampleNames.map((n): [string, Spec] => [n, compileText(readExample(n), `${n}.mdr`).spec!]),
  ["kitchen sink", compileText(kitchenSink).spec!],
];

for (const [name, spec] of specs) {
  test(`${name}: ONNX Runtime matches the TypeScript reference within 1e-5 (batch 1 and 1,000; both dispatch modes)`, async () => {
    assert.ok(spec, "spec compiles");
    const data = syntheticData(spec);
    const rows = randomRows(spec, data, 1000, 42);
    const sparse = randomModel(spec, data, "sparse");
    const dense = randomModel(spec, data, "dense");
    // Parameters are drawn by name, so both dispatch modes hold the same weights.
    const expected = rows.map((r) => referenceForward(spec, sparse.weights, data, r).probability);
    for (const [mode, m] of [["sparse", sparse], ["dense", dense]] as const) {
      const all = await runOrt(m.bytes, m.manifest, rows);
      const one = await runOrt(m.bytes, m.manifest, rows.slice(0, 1));
      let worst = 0;
      all.forEach((p, i) => (worst = Math.max(worst, Math.abs(p - expected[i]))));
      assert.ok(worst < 1e-5, `${mode}: max |ORT − reference| = ${worst}`);
      assert.ok(Math.abs(one[0] - expected[0]) < 1e-5, `${mode}, batch 1`);
    }
    // The outputs must not be degenerate (a constant model would match trivially).
    const spread = Math.max(...expected) - Math.min(...expected);
    assert.ok(spread > 0.05, `probabilities vary across rows (spread ${spread})`);
  });
}
