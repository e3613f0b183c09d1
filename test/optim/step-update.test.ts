import assert from "node:assert/strict";
import { test } from "node:test";
import { compileTrainStep } from "../../src/compiler/train-step.js";
import { embeddingTable } from "../../src/graph/names.js";
import { initialStepState, runTrainStep } from "../../src/runtime/step-runner.js";
import { encodeTrainBatch } from "../../src/runtime/train-batch.js";
import { createSession } from "../../src/runtime/session.js";
import { randomRows, syntheticData } from "../helpers/models.js";
import { compileText, readExample } from "../helpers/specs.js";
import { domainIdsOf, trainHarness } from "../helpers/train.js";

/**
 * Adam's first step moves each value by lr · g / (|g| + ε) (m̂ = g, v̂ = g²), so one whole training step
 * can be checked against the gradients of the gradients-only graph, value by value: a parameter updated
 * with another's gradient (the dense parameters are updated as one concatenation), or a row written back
 * to the wrong place, cannot pass.
 */
test("one whole training step moves every dense parameter and touched embedding row by Adam's first update of its own gradient", async () => {
  const spec = compileText(readExample("cesaa")).spec!;
  const data = syntheticData(spec);
  const rows = randomRows(spec, data, 64, 21);
  const grads = await trainHarness(spec, data, rows, { gradientsOnly: true });
  const out = await grads.run();

  const step = compileTrainStep(spec, { data });
  const state = initialStepState(spec, step, data);
  for (const [name, v] of grads.params) state.params.get(name)!.set(v);
  const before = new Map([...state.params].map(([k, v]) => [k, Float32Array.from(v)]));
  const tablesBefore = new Map([...state.store.tables.values()].map((t) => [t.name, Float32Array.from(t.values)]));
  const session = await createSession(step.model, { threads: 1, shapesVary: true });
  const encoded = encodeTrainBatch(spec, step.signature, state.store, rows.map((values, i) => ({ values, line: i + 2 })), domainIdsOf(spec, rows), "test");
  const lr = 0.01, embeddingLr = 0.05, eps = spec.train.eps!;
  await runTrainStep(session, spec, step, state, { batch: { encoded }, labels: grads.batch.feeds.label.data as Float32Array, lr, embeddingLr, step: 1, seed: 7, file: "test" });
  await session.release();

  const expectMoved = (what: string, old: Float32Array, now: Float32Array, g: Float32Array, rate: number) => {
    let moved = 0;
    for (let i = 0; i < old.length; i++) {
      const want = old[i] - (rate * g[i]) / (Math.abs(g[i]) + eps);
      assert.ok(Math.abs(now[i] - want) <= 1e-6 + 1e-3 * rate, `${what}[${i}]: ${now[i]}, want ${want} (gradient ${g[i]})`);
      if (now[i] !== old[i]) moved++;
    }
    return moved;
  };
  let moved = 0;
  for (const p of step.signature.parameters) {
    moved += expectMoved(p.name, before.get(p.name)!, state.params.get(p.name)!, out[`${p.name}::grad`].data as Float32Array, lr);
  }
  assert.ok(moved > 1000, `only ${moved} dense values moved`);
  for (const t of state.store.tables.values()) {
    const g = out[`${embeddingTable(t.name)}::grad`].data as Float32Array;
    // Untouched rows have a zero gradient and must stay exactly as they were.
    expectMoved(embeddingTable(t.name), tablesBefore.get(t.name)!, t.values, g, embeddingLr);
  }
  assert.ok(step.signature.parameters.length > 10, "the example has many dense parameters");
});
