import assert from "node:assert/strict";
import { test } from "node:test";
import { createSourceFile } from "../../src/diagnostics/source.js";
import { compileSpecSource } from "../../src/compiler/frontend.js";
import { cesaaArch, compileText, withArchitecture } from "../helpers/specs.js";

const jsonSpec = {
  model: "t",
  domain: { name: "d", values: ["a", "b", "c"] },
  features: [{ kind: "categorical", name: "user", dim: 8 }, { kind: "numeric", name: "age" }],
  experts: [
    { name: "shared", scope: "shared", count: 2, layers: [16] },
    { name: "specific", scope: "routed", count: 4, layers: [16] },
  ],
  gates: [{ name: "router", per: "all", pools: ["specific"], type: "topk", k: 2, inputs: ["features", "domain"], always_on: ["shared"] }],
  towers: [{ name: "head", input: "router", layers: [8] }],
};

const compileJson = (value: unknown) => {
  const text = JSON.stringify(value, null, 2);
  return { text, result: compileSpecSource(createSourceFile("spec.json", text)) };
};

test("a JSON spec with defaults left out equals the same spec in .mdr form", () => {
  const fromJson = compileJson(jsonSpec).result;
  const fromText = compileText(withArchitecture(cesaaArch));
  assert.deepEqual(fromJson.diagnostics, []);
  assert.deepEqual(fromJson.spec, fromText.spec);
});

test("JSON specs get the same diagnostics, pointing at JSON paths and their text", () => {
  const bad = structuredClone(jsonSpec) as typeof jsonSpec;
  bad.gates[0].k = 7;
  const { text, result } = compileJson(bad);
  const d = result.diagnostics.find((x) => x.code === "MDR305")!;
  assert.ok(d);
  assert.equal(d.path, "/gates/0/k");
  assert.equal(text.slice(d.span!.start, d.span!.end), "7");

  const typo = structuredClone(jsonSpec) as unknown as { experts: Record<string, unknown>[] };
  typo.experts[0].actvation = "relu";
  const t = compileJson(typo);
  const u = t.result.diagnostics[0];
  assert.equal(u.code, "MDR204");
  assert.equal(u.path, "/experts/0/actvation");
  assert.equal(t.text.slice(u.span!.start, u.span!.end), `"actvation"`);
  assert.equal(u.hint, "Did you mean 'activation'?");
});

test("malformed JSON and a non-object are reported with positions", () => {
  const r = compileSpecSource(createSourceFile("x.json", `{"model": "t",,}`));
  assert.equal(r.diagnostics[0].code, "MDR105");
  assert.equal(r.diagnostics[0].span!.start, 14);
  const arr = compileSpecSource(createSourceFile("x.json", `[1, 2]`));
  assert.equal(arr.diagnostics[0].code, "MDR206");
});

test("an unknown feature kind in JSON lists the allowed kinds", () => {
  const bad = structuredClone(jsonSpec) as unknown as { features: Record<string, unknown>[] };
  bad.features[0].kind = "categorial";
  const d = compileJson(bad).result.diagnostics[0];
  assert.equal(d.code, "MDR207");
  assert.match(d.hint!, /Did you mean 'categorical'\?/);
});
