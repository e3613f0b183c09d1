import assert from "node:assert/strict";
import { test } from "node:test";
import { costReport, mlpCost } from "../../src/plan/cost.js";
import { resolve } from "../../src/plan/resolve.js";
import { compileText, withArchitecture } from "../helpers/specs.js";

test("mlpCost counts weights, biases and layer-norm parameters", () => {
  assert.deepEqual(mlpCost(10, [4, 2]), { params: 10 * 4 + 4 + 4 * 2 + 2, macs: 48 });
  assert.deepEqual(mlpCost(10, [4, 2], true), { params: 54 + 8, macs: 48 });
});

test("cost model of a PLE level with per-domain experts and a top-k router, computed by hand", () => {
  // Input: user dim 8 + age 1 = 9. D = 3.
  const arch = `
  experts s { count: 2, layers: [6] }
  experts own { scope: per_domain, count: 1, layers: [6] }
  experts r { scope: routed, count: 6, layers: [6] }
  gate g { pools: [s, own] }
  gate router { per: all, pools: [r], type: topk, k: 3 }
  experts top { layers: [6], input: g }
  tower { per: shared, input: router, layers: [] }
`;
  const spec = compileText(withArchitecture(arch.replace("experts top { layers: [6], input: g }", ""))).spec;
  assert.ok(spec);
  const expert = 9 * 6; // MACs of one expert
  const r = costReport(resolve(spec));
  assert.equal(r.inputWidth, 9);
  // Only the router feeds the tower: 3 of 6 routed experts, router 9×6, tower 6×1. g, s, own are unused.
  assert.equal(r.domains[0].activatedMacs, 3 * expert + 9 * 6 + 6);
  assert.equal(r.domains[0].denseMacs, 6 * expert + 9 * 6 + 6);
  // Dense params: s 2 experts, own 3 domains × 1, r 6, gate g (3 copies × (9×3+3)), router (9×6+6), tower 7.
  const e = 9 * 6 + 6;
  assert.equal(r.denseParams, 2 * e + 3 * e + 6 * e + 3 * (9 * 3 + 3) + (9 * 6 + 6) + 7);
});

test("per-domain towers run every copy on every row only while that costs less than dispatching rows", () => {
  // D = 3: all-rows adds 2 copies' multiply-adds; dispatching moves the input (128 wide) and output per row.
  const towerOver = (layers: string) => {
    const arch = `experts e { count: 1, layers: [128] }\n  tower head { per: domain, input: e, layers: [${layers}] }`;
    const spec = compileText(withArchitecture(arch)).spec;
    assert.ok(spec);
    return resolve(spec).tower.strategy;
  };
  assert.equal(towerOver(""), "all-rows"); // 2 × 128 extra multiply-adds
  assert.equal(towerOver("16"), "all-rows"); // 2 × (128·16 + 16) = 4,128
  assert.equal(towerOver("64"), "dispatch"); // 2 × (128·64 + 64) = 16,512
});
