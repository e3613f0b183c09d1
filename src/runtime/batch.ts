import ort from "onnxruntime-node";
import { categoryCell, integerIdCell, multiValueCell, numericCell, numericPolicies, type RawRow } from "./cells.js";
import type { Manifest } from "../compiler/inference.js";

export { DataError, type RawRow } from "./cells.js";

/**
 * Turns raw rows into ONNX Runtime feeds following the manifest: strings stay strings (numbers are
 * printed), numbers are parsed (missing → NaN, the graph fills it), multi-valued cells are split and padded.
 */
export function encodeBatch(manifest: Manifest, rows: RawRow[], file: string): Record<string, ort.Tensor> {
  const n = rows.length;
  const feeds: Record<string, ort.Tensor> = {};
  const policies = numericPolicies(manifest.spec);
  for (const input of manifest.inputs) {
    const column = input.column;
    if (input.dtype === "float32") {
      const policy = policies.get(column)!;
      const out = new Float32Array(n);
      rows.forEach((r, i) => (out[i] = numericCell(r, column, policy, file)));
      feeds[input.name] = new ort.Tensor("float32", out, [n]);
    } else if (input.dtype === "int64") {
      const out = new BigInt64Array(n);
      // A missing id takes a value outside every declared range: the out-of-vocabulary row.
      rows.forEach((r, i) => (out[i] = BigInt(integerIdCell(r, column, file) ?? MISSING_ID)));
      feeds[input.name] = new ort.Tensor("int64", out, [n]);
    } else if (input.split_by !== undefined) {
      const sep = input.split_by;
      const lists = rows.map((r) => multiValueCell(r, column, sep, file));
      const L = Math.max(1, ...lists.map((l) => l.length));
      const flat: string[] = new Array(n * L).fill("");
      lists.forEach((l, i) => l.forEach((v, j) => (flat[i * L + j] = v)));
      feeds[input.name] = new ort.Tensor("string", flat, [n, L]);
    } else {
      feeds[input.name] = new ort.Tensor("string", rows.map((r) => categoryCell(r, column, file)), [n]);
    }
  }
  return feeds;
}

const MISSING_ID = -(2 ** 62);

