import { readFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import type { Manifest } from "../../src/compiler/inference.js";
import { encodeBatch, type RawRow } from "../../src/runtime/batch.js";
import { servedInputs } from "../../src/serve/protocol.js";

/** Rows as tensors of the v2 protocol: one raw value per row and column. */
export function tensorsOf(manifest: Manifest, rows: Record<string, unknown>[], shape2d = false): object[] {
  return servedInputs(manifest).map((i) => ({
    name: i.name, datatype: i.datatype, shape: shape2d ? [rows.length, 1] : [rows.length],
    data: rows.map((r) => {
      const v = r[i.column];
      const x = i.datatype === "BYTES" ? String(v ?? "") : v === null || v === undefined || v === "" ? null : Number(v);
      return shape2d ? [x] : x;
    }),
  }));
}

/** Probabilities the way `mdr predict` computes them, straight from the folder's model.onnx. */
export async function expected(dir: string, rows: Record<string, unknown>[]): Promise<number[]> {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
  const session = await ort.InferenceSession.create(join(dir, "model.onnx"));
  const raw: RawRow[] = rows.map((values, i) => ({ values, line: i }));
  const out = await session.run(encodeBatch(manifest, raw, "test"));
  await session.release();
  return Array.from(out.probability.data as Float32Array);
}

