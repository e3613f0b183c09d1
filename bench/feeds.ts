import ort from "onnxruntime-node";
import type { Manifest } from "../src/compiler/inference.js";
import { prng } from "../src/graph/init.js";
import { GraphBuilder } from "../src/graph/builder.js";
import { Graph } from "../src/graph/ops.js";
import { emitModel } from "../src/onnx/emit.js";
import { uniform } from "../src/graph/init.js";

/** Random raw feeds for a compiled model: ids inside declared ranges, a few category strings, numbers. */
export function randomFeeds(manifest: Manifest, n: number, seed = 1): Record<string, ort.Tensor> {
  const rnd = prng(seed, "feeds");
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of manifest.inputs) {
    const feature = manifest.spec.features.find((f) => f.column === input.column);
    if (input.dtype === "int64") {
      const range = feature && feature.kind !== "numeric" ? feature.range ?? [0, 100] : [0, 100];
      feeds[input.name] = new ort.Tensor("int64", BigInt64Array.from({ length: n }, () => BigInt(range[0] + Math.floor(rnd() * (range[1] - range[0] + 1)))), [n]);
    } else if (input.dtype === "float32") {
      feeds[input.name] = new ort.Tensor("float32", Float32Array.from({ length: n }, () => rnd() * 4 - 2), [n]);
    } else if (input.column === manifest.domain.column) {
      feeds[input.name] = new ort.Tensor("string", Array.from({ length: n }, () => manifest.domain.values[Math.floor(rnd() * manifest.domain.values.length)]), [n]);
    } else if (input.shape.length === 2) {
      feeds[input.name] = new ort.Tensor("string", Array.from({ length: n * 2 }, () => `v${Math.floor(rnd() * 50)}`), [n, 2]);
    } else {
      feeds[input.name] = new ort.Tensor("string", Array.from({ length: n }, () => `v${Math.floor(rnd() * 1000)}`), [n]);
    }
  }
  return feeds;
}

/**
 * The machine's compute-bound baseline: a chain of square Gemms x·W₁·W₂·… ([N, 256] · [256, 256] each, a
 * ReLU between so no two fold together) ending in a [256, 1] projection, with about `macsPerRow` multiply-
 * adds per row. Its output is one number per row, so it measures multiply-adds, not copying outputs.
 */
export function gemmChainModel(macsPerRow: number): { bytes: Uint8Array; layers: number; macsPerRow: number; feeds: (n: number) => Record<string, ort.Tensor> } {
  const K = 256;
  const layers = Math.max(1, Math.round((macsPerRow - K) / (K * K)));
  const g = new Graph(17);
  let h = g.input("x", "float32", ["N", K]);
  for (let i = 0; i < layers; i++) h = g.relu(g.matmul(h, g.param(`w${i}`, uniform(1, `w${i}`, [K, K], 1 / Math.sqrt(K)))));
  g.output(g.matmul(h, g.param("out", uniform(1, "out", [K, 1], 1 / Math.sqrt(K)))), "y");
  void GraphBuilder;
  const bytes = emitModel(g, { producerVersion: "bench" }).model;
  return { bytes, layers, macsPerRow: layers * K * K + K, feeds: (n) => ({ x: new ort.Tensor("float32", new Float32Array(n * K).fill(0.5), [n, K]) }) };
}

/**
 * Seconds per run: five rounds of at least `seconds / 5` each, and the median round's mean, so one
 * noisy round (these are shared VMs) does not move the figure.
 */
export async function timeRuns(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, seconds = 0.6): Promise<number> {
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    let runs = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < (seconds * 1000) / 5 || runs < 3) {
      await session.run(feeds);
      runs++;
      elapsed = performance.now() - t0;
    }
    rounds.push(elapsed / 1000 / runs);
  }
  return rounds.sort((a, b) => a - b)[2];
}
