import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { RouterStatistics } from "../../src/runtime/router-stats.js";

// Router statistics against a hand computation on a small fixed batch (inputs are float32: 1e-6).

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

test("top-k gate: usage is the share of the k slots, MI = H(choice) − H(choice | domain), load balance E·Σ f·P", () => {
  // 4 rows, 3 experts, k = 2; domains a, a, b, b.
  const probabilities = [0.5, 0.3, 0.2, 0.6, 0.3, 0.1, 0.1, 0.2, 0.7, 0.2, 0.2, 0.6];
  const selected = [0, 1, 0, 1, 2, 1, 2, 0];
  const s = new RouterStatistics(["a", "b"]);
  s.add({
    "debug.router.probabilities": new ort.Tensor("float32", Float32Array.from(probabilities), [4, 3]),
    "debug.router.selected": new ort.Tensor("int64", BigInt64Array.from(selected.map(BigInt)), [4, 2]),
    probability: new ort.Tensor("float32", new Float32Array(4), [4]),
  }, [0, 0, 1, 1]);
  const r = s.result().router;
  // Domain a chose e0, e1, e0, e1 → [1/2, 1/2, 0]; domain b chose e2, e1, e2, e0 → [1/4, 1/4, 1/2].
  assert.deepEqual(r.usage, [[0.5, 0.5, 0], [0.25, 0.25, 0.5]]);
  assert.deepEqual(r.rows, [2, 2]);
  assert.equal(r.measure, "top-k slots");
  // p(choice) = [3/8, 3/8, 1/4]; H(choice) − H(choice | domain), computed from entropies, not from the joint.
  const H = (p: number[]) => -p.reduce((h, x) => h + (x > 0 ? x * Math.log(x) : 0), 0);
  const mi = H([3 / 8, 3 / 8, 1 / 4]) - (0.5 * H([0.5, 0.5, 0]) + 0.5 * H([0.25, 0.25, 0.5]));
  near(r.mutual_information!, mi, "mutual information");
  near(r.domain_entropy, Math.log(2), "domain entropy");
  // f = [3/8, 3/8, 1/4]; P = mean probabilities = [0.35, 0.25, 0.4].
  near(r.load_balance, 3 * (3 / 8 * 0.35 + 3 / 8 * 0.25 + 1 / 4 * 0.4), "load balance");
});

test("dense gate: usage is the mean gate weight; batches accumulate; a choice independent of the domain has no information", () => {
  const s = new RouterStatistics(["a", "b"]);
  const batch = (p: number[], domains: number[]) => s.add({ "debug.g.probabilities": new ort.Tensor("float32", Float32Array.from(p), [domains.length, 2]) }, domains);
  batch([0.8, 0.2, 0.4, 0.6], [0, 1]);
  batch([0.8, 0.2, 0.4, 0.6], [0, 1]);
  const r = s.result().g;
  assert.equal(r.measure, "gate weight");
  r.usage[0].forEach((v, e) => near(v, [0.8, 0.2][e], "usage a"));
  r.usage[1].forEach((v, e) => near(v, [0.4, 0.6][e], "usage b"));
  assert.deepEqual(r.rows, [2, 2]);
  near(r.load_balance, 2 * (0.6 * 0.6 + 0.4 * 0.4), "load balance of a dense gate: E · Σ P²");
  const flat = new RouterStatistics(["a", "b"]);
  flat.add({ "debug.g.probabilities": new ort.Tensor("float32", Float32Array.from([0.3, 0.7, 0.3, 0.7]), [2, 2]) }, [0, 1]);
  near(flat.result().g.mutual_information!, 0, "no information");
});

test("a per-domain gate, whose choice j is another expert in each domain, has usage but no mutual information", () => {
  const s = new RouterStatistics(["a", "b"], new Set(["level1"]));
  s.add({ "debug.level1.probabilities": new ort.Tensor("float32", Float32Array.from([0.9, 0.1, 0.2, 0.8]), [2, 2]) }, [0, 1]);
  const r = s.result().level1;
  assert.equal(r.choices, "per-domain");
  assert.equal(r.mutual_information, null);
  r.usage[0].forEach((v, e) => near(v, [0.9, 0.1][e], "usage a"));
});
