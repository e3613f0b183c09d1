import ort from "onnxruntime-node";
import { GraphBuilder } from "../src/graph/builder.js";
import { uniform } from "../src/graph/init.js";
import { Graph } from "../src/graph/ops.js";
import { emitModel } from "../src/onnx/emit.js";
import { timeIt } from "../src/runtime/benchmark.js";
import { createSession } from "../src/runtime/session.js";

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

/** Rows/s of the Gemm chain at batch 4,096: the machine's multiply-add rate, measured as the models are. */
export async function chainRowsPerSecond(chain: ReturnType<typeof gemmChainModel>, threads: number, seconds = 1): Promise<number> {
  const session = await createSession(chain.bytes, { threads });
  const feeds = chain.feeds(4096);
  const ms = await timeIt(() => session.run(feeds), seconds);
  await session.release();
  return Math.round((4096 * 1000) / ms);
}
