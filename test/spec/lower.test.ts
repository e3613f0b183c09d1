import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Ajv } from "ajv";
import { createSourceFile } from "../../src/diagnostics/source.js";
import { compileSpecSource } from "../../src/compiler/frontend.js";
import { cesaaArch, compileText, exampleNames, examplePath, root, withArchitecture } from "../helpers/specs.js";

test("lowering fills every documented default", () => {
  const r = compileText(withArchitecture(cesaaArch));
  const s = r.spec!;
  assert.equal(s.version, 1);
  assert.equal(s.label, "label");
  assert.deepEqual(s.domain, { name: "d", column: "d", unknown: "error", values: ["a", "b", "c"], weights: { a: 1, b: 1, c: 1 } });
  assert.deepEqual(s.features[0], { name: "user", kind: "categorical", column: "user", dim: 8, min_count: 2, oov_rate: 0 });
  assert.deepEqual(s.features[1], { name: "age", kind: "numeric", column: "age", transform: "standard", missing: "mean", missing_values: [] });
  assert.deepEqual(s.experts[0], { name: "shared", activation: "relu", count: 2, dropout: 0, input: "features", layer_norm: false, layers: [16], scope: "shared" });
  assert.deepEqual(s.gates[0], {
    name: "router", always_on: ["shared"], always_on_combine: "mean", dispatch: "sparse", domain_dim: 8, input: "features",
    inputs: ["features", "domain"], k: 2, noise: 0, per: "all", pools: ["specific"], renormalize: true, topk_order: "after_softmax", type: "topk",
  });
  assert.deepEqual(s.towers[0], { name: "head", activation: "relu", dropout: 0, input: "router", layer_norm: false, layers: [8], per: "domain" });
  assert.deepEqual(s.loss, { bce: 1, l2_embedding: 0, load_balance: 0, mutual_information: 0 });
  assert.deepEqual(s.train, {
    batch_size: 1024, beta1: 0.9, beta2: 0.999, checkpoint_every: 2000, early_stopping: { metric: "auc", patience: 2 }, embedding_lr: 0.001,
    epochs: 10, eps: 1e-8, lr: 0.001, optimizer: "adam", seed: 0,
  });
  assert.deepEqual(s.stars, []);
});

test("context-dependent defaults: gate input, router, optimizer constants, bucket width, shared table width", () => {
  const arch = `
  experts a { layers: [8] }
  gate g1 { pools: [a] }
  experts b { layers: [8], input: g1 }
  gate g2 { per: all, pools: [b] }
  tower { input: g2 }
`;
  const text = withArchitecture(arch, "  loss { load_balance: 0.1 }\n  train { optimizer: sgd, lr: 0.1 }")
    .replace("numeric age {}", "numeric age { transform: bucketize, boundaries: [18, 30] }\n    categorical friend { table: user }");
  const s = compileText(text).spec!;
  assert.equal(s.gates[1].input, "g1", "a gate reads what its first pool reads");
  assert.equal(s.loss.router, "g2");
  assert.equal(s.train.momentum, 0);
  assert.equal(s.train.embedding_lr, 0.1);
  assert.equal(s.towers[0].name, "tower");
  const age = s.features.find((f) => f.name === "age")!;
  assert.equal(age.kind === "numeric" && age.dim, 8);
  assert.equal(s.features.find((f) => f.name === "friend")!.kind === "categorical" && (s.features[2] as { dim: number }).dim, 8);
});

const schema = JSON.parse(readFileSync(`${root}schemas/mdr-spec.schema.json`, "utf8"));
const strictAjv = new Ajv({ discriminator: true, strict: false });
const validateCanonical = strictAjv.compile(schema);

for (const name of exampleNames) {
  test(`${name}: validates clean, and its canonical JSON is schema-valid and a fixed point`, () => {
    const text = readFileSync(examplePath(name), "utf8");
    const r = compileSpecSource(createSourceFile(examplePath(name), text));
    assert.deepEqual(r.diagnostics, []);
    assert.ok(validateCanonical(r.spec), JSON.stringify(validateCanonical.errors));
    // The canonical JSON is itself an accepted spec, and lowers to itself.
    const json = JSON.stringify(r.spec, null, 2);
    const again = compileSpecSource(createSourceFile(`${name}.json`, json));
    assert.deepEqual(again.diagnostics, []);
    assert.equal(JSON.stringify(again.spec, null, 2), json);
  });
}

test("the five examples differ only in their architecture part", () => {
  const strip = (t: string) => t.replace(/# --- architecture[\s\S]*# --- end of architecture ---/, "").replace(/model \w+/, "model x");
  const base = strip(readFileSync(examplePath("cesaa"), "utf8"));
  for (const name of exampleNames) assert.equal(strip(readFileSync(examplePath(name), "utf8")), base, name);
});
