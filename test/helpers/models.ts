import ort from "onnxruntime-node";
import type { Manifest } from "../../src/compiler/inference.js";
import { compileInference } from "../../src/compiler/inference.js";
import type { DispatchMode } from "../../src/graph/dispatch.js";
import { prng } from "../../src/graph/init.js";
import type { ModelData } from "../../src/plan/model-data.js";
import { buildModel } from "../../src/graph/model.js";
import { emitModel } from "../../src/onnx/emit.js";
import { encodeBatch, type RawRow } from "../../src/runtime/batch.js";
import type { Spec } from "../../src/spec/types.js";
import type { Row, Weights } from "../reference/model.js";

/** Vocabularies and statistics as training would have produced them. */
export function syntheticData(spec: Spec): ModelData {
  const data: ModelData = { vocabularies: {}, numeric: {} };
  for (const f of spec.features) {
    if (f.kind === "numeric") data.numeric[f.name] = { mean: 0.7, std: 1.9 };
    else if (!f.table && !f.range) data.vocabularies[f.name] = Array.from({ length: 12 }, (_, i) => `${f.name}${i}`);
  }
  return data;
}

/** Random rows, including unseen categories, missing numbers, empty lists and undeclared domains. */
export function randomRows(spec: Spec, data: ModelData, n: number, seed: number): Row[] {
  const rnd = prng(seed, "rows");
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const byName = new Map(spec.features.map((f) => [f.name, f]));
  return Array.from({ length: n }, () => {
    const row: Row = {};
    for (const f of spec.features) {
      if (f.kind === "numeric") {
        // Around the synthetic mean 0.7 ± a few std (1.9), as standardised training data would be.
        row[f.column] = rnd() < 0.1 ? null : 0.7 + (rnd() * 2 - 1) * 4;
        continue;
      }
      const owner = f.table ? byName.get(f.table)! : f;
      const value = () => {
        if (owner.kind !== "numeric" && owner.range) return String(owner.range[0] - 1 + Math.floor(rnd() * (owner.range[1] - owner.range[0] + 3)));
        const vocab = data.vocabularies[owner.name] ?? [];
        return rnd() < 0.2 || vocab.length === 0 ? `unseen${Math.floor(rnd() * 5)}` : pick(vocab);
      };
      row[f.column] = f.kind === "multi_categorical" ? Array.from({ length: Math.floor(rnd() * 4) }, value).join(f.separator) : value();
    }
    row[spec.domain.column] = rnd() < 0.1 ? "undeclared" : pick(spec.domain.values);
    return row;
  });
}

/** Builds the inference graph, draws every parameter at random (so no factor sits at its neutral 1 or 0), emits it. */
export function randomModel(spec: Spec, data: ModelData, dispatch: DispatchMode, seed = 1): { bytes: Uint8Array; weights: Weights; manifest: Manifest } {
  const built = buildModel(spec, data, { opset: 17, dispatch });
  const weights: Weights = new Map();
  for (const init of built.graph.initializers) {
    if (built.graph.parameters.has(init.name)) {
      const rnd = prng(seed, init.name);
      const arr = init.data as Float32Array;
      const positive = init.name.endsWith("running_var");
      for (let i = 0; i < arr.length; i++) arr[i] = positive ? 0.5 + rnd() : (rnd() * 2 - 1) * 0.6;
    }
    weights.set(init.name, { shape: [...init.shape], data: init.data as Float32Array });
  }
  const bytes = emitModel(built.graph, { producerVersion: "test" }).model;
  const { manifest } = compileInference(spec, { data, dispatch });
  return { bytes, weights, manifest };
}

export async function runOrt(bytes: Uint8Array, manifest: Manifest, rows: Row[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(Buffer.from(bytes), { intraOpNumThreads: 1 });
  const raw: RawRow[] = rows.map((values, i) => ({ values, line: i + 2 }));
  const out = await session.run(encodeBatch(manifest, raw, "test"));
  return out.probability.data as Float32Array;
}
