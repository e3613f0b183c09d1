import ort from "onnxruntime-node";
import { compileTrainStep, type CompiledTrainStep } from "../../src/compiler/train-step.js";
import { prng } from "../../src/graph/init.js";
import { embeddingTable } from "../../src/graph/names.js";
import type { ModelData } from "../../src/plan/model-data.js";
import { EmbeddingStore } from "../../src/runtime/embedding-store.js";
import { encodeTrainBatch } from "../../src/runtime/train-batch.js";
import type { Spec } from "../../src/spec/types.js";
import type { Row } from "../reference/model.js";

export function domainIdsOf(spec: Spec, rows: Row[]): number[] {
  const fb = spec.domain.fallback !== undefined ? spec.domain.values.indexOf(spec.domain.fallback) : 0;
  return rows.map((r) => {
    const i = spec.domain.values.indexOf(String(r[spec.domain.column]));
    return i < 0 ? fb : i;
  });
}

/** A train-step harness with every dense parameter drawn at random (running variances kept positive). */
export async function trainHarness(spec: Spec, data: ModelData, rows: Row[], options: { gradientsOnly?: boolean; seed?: number } = {}) {
  const step: CompiledTrainStep = compileTrainStep(spec, { data, gradientsOnly: options.gradientsOnly });
  const session = await ort.InferenceSession.create(Buffer.from(step.model), { intraOpNumThreads: 1 });
  const params = new Map<string, Float32Array>();
  for (const [name, init] of step.initial) {
    const rnd = prng(options.seed ?? 3, name);
    const positive = name.endsWith("running_var");
    params.set(name, Float32Array.from(init.data as Float32Array, () => (positive ? 0.5 + rnd() : (rnd() * 2 - 1) * 0.5)));
  }
  const store = new EmbeddingStore(spec, data, step.signature);
  const raw = rows.map((values, i) => ({ values, line: i + 2 }));
  const batch = encodeTrainBatch(spec, step.signature, store, raw, domainIdsOf(spec, rows), "test");
  const lrnd = prng(5, "labels");
  if (step.signature.seeded) batch.feeds.seed = new ort.Tensor("float32", new Float32Array([7]), []);
  batch.feeds.label = new ort.Tensor("float32", Float32Array.from(rows, () => (lrnd() < 0.5 ? 1 : 0)), [rows.length]);
  const run = async (override: Map<string, Float32Array> = new Map()) => {
    const feeds: Record<string, ort.Tensor> = { ...batch.feeds };
    for (const [name, v] of params) feeds[name] = new ort.Tensor("float32", override.get(name) ?? v, step.initial.get(name)!.shape as number[]);
    for (const t of step.signature.tables) {
      const key = embeddingTable(t.name);
      if (override.has(key)) feeds[key] = new ort.Tensor("float32", override.get(key)!, batch.feeds[key].dims as number[]);
    }
    return session.run(feeds);
  };
  return { step, params, batch, run, store };
}
