import assert from "node:assert/strict";
import { test } from "node:test";
import { prng } from "../../src/graph/init.js";
import { embeddingTable } from "../../src/graph/names.js";
import type { Spec } from "../../src/spec/types.js";
import { randomRows, syntheticData } from "../helpers/models.js";
import { compileText, exampleNames, readExample } from "../helpers/specs.js";
import { trainHarness } from "../helpers/train.js";

/**
 * Each loss term alone, so a missing or wrong term cannot hide behind a larger one. Activations are made
 * smooth (gelu): a finite difference across a ReLU kink measures the kink, not the gradient, and some of
 * thousands of units always sit within ε of theirs. The ReLU rule itself is checked op by op.
 */
function variants(spec: Spec): [string, Spec][] {
  const only = (term: "bce" | "mutual_information" | "load_balance" | "l2_embedding", w: number): Spec => {
    const s = structuredClone(spec);
    for (const c of [...s.experts, ...s.stars, ...s.towers]) if (c.activation === "relu") c.activation = "gelu";
    s.loss = { ...s.loss, bce: 0, mutual_information: 0, load_balance: 0, l2_embedding: 0, [term]: w };
    return s;
  };
  const out: [string, Spec][] = [["bce", only("bce", 1)], ["l2_embedding", only("l2_embedding", 0.5)]];
  if (spec.loss.router) out.push(["mutual_information", only("mutual_information", 1)], ["load_balance", only("load_balance", 1)]);
  return out;
}

const routerSink = `
model sink {
  domain d { values: [a, b, c] }
  features {
    categorical item { dim: 4 }
    multi_categorical bag { dim: 3, separator: ";" }
    numeric price { transform: log1p }
    numeric age { transform: bucketize, boundaries: [0, 5], dim: 2 }
  }
  experts base { count: 2, layers: [6], activation: gelu, layer_norm: true }
  experts own { scope: per_domain, count: 1, layers: [6], activation: tanh }
  gate pick { per: domain, pools: [base, own] }
  experts routed { scope: routed, count: 4, layers: [6], input: pick, activation: silu }
  gate router { per: all, pools: [routed], type: topk, k: 2, topk_order: before_softmax, inputs: [features, domain], always_on: [base], always_on_combine: gate }
  star trunk { layers: [5], input: router, aux_layers: [3] }
  tower { per: domain, input: trunk, layers: [4] }
  loss { mutual_information: 0.1, load_balance: 0.1 }
}
`;

const specs: [string, Spec][] = [
  ...exampleNames.map((n): [string, Spec] => [n, compileText(readExample(n)).spec!]),
  ["kitchen sink", compileText(routerSink).spec!],
];

for (const [name, base] of specs) {
  for (const [term, spec] of variants(base)) {
    test(`${name}, ${term}: (L(θ+εv) − L(θ−εv)) / 2ε matches ∇L·v for every parameter tensor and embedding table`, async () => {
      const data = syntheticData(spec);
      const rows = randomRows(spec, data, 48, 11);
      const h = await trainHarness(spec, data, rows, { gradientsOnly: true });
      const out = await h.run();
      const rnd = prng(17, "direction");
      const names = [...h.params.keys(), ...h.step.signature.tables.map((t) => embeddingTable(t.name))].filter((n) => !h.step.signature.states.some((s) => s.name === n));
      const values = new Map(names.map((n) => [n, h.params.get(n) ?? (h.batch.feeds[n].data as Float32Array)]));
      // One random direction per tensor, checked tensor by tensor: a sum over all tensors could let
      // large opposite errors cancel, and ReLU kinks crossed by a huge joint step would blur it.
      const eps = 1e-3;
      let checked = 0;
      for (const n of names) {
        const v = Float32Array.from(values.get(n)!, () => rnd() * 2 - 1);
        const grad = out[`${n}::grad`].data as Float32Array;
        let analytic = 0;
        for (let i = 0; i < v.length; i++) analytic += grad[i] * v[i];
        const at = async (sign: number) => ((await h.run(new Map([[n, Float32Array.from(values.get(n)!, (x, i) => x + sign * eps * v[i])]]))).loss.data as Float32Array)[0];
        const numeric = ((await at(1)) - (await at(-1))) / (2 * eps);
        assert.ok(Math.abs(numeric - analytic) <= 2e-3 + 5e-2 * Math.abs(analytic), `${n}: finite difference ${numeric} vs ∇L·v ${analytic}`);
        if (Math.abs(analytic) > 1e-3) checked++;
      }
      assert.ok(checked > 0, "some tensor has a non-trivial gradient");
    });
  }
}
