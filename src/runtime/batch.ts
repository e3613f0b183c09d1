import ort from "onnxruntime-node";
import type { Manifest } from "../compiler/inference.js";

/** A data problem at a place in a file: reported as file:line:column, never with a stack. */
export class DataError extends Error {
  constructor(readonly file: string, readonly line: number, readonly column: number | undefined, readonly reason: string) {
    super(`${file}:${line}${column !== undefined ? `:${column}` : ""}: ${reason}`);
  }
}

/** One input row as read: raw cell text (CSV) or JSON values, with where it came from. */
export interface RawRow {
  values: Record<string, unknown>;
  line: number;
  /** 1-based column number of each field, for error positions (CSV only). */
  columns?: Record<string, number>;
}

/**
 * Turns raw rows into ONNX Runtime feeds following the manifest: strings stay strings (numbers are
 * printed), numbers are parsed (empty → NaN, the graph fills it), multi-valued cells are split and padded.
 */
export function encodeBatch(manifest: Manifest, rows: RawRow[], file: string): Record<string, ort.Tensor> {
  const n = rows.length;
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of manifest.inputs) {
    const cell = (r: RawRow) => r.values[input.column];
    const where = (r: RawRow) => r.columns?.[input.column];
    if (input.dtype === "float32") {
      const out = new Float32Array(n);
      rows.forEach((r, i) => (out[i] = numberCell(r, input.column, file)));
      feeds[input.name] = new ort.Tensor("float32", out, [n]);
    } else if (input.dtype === "int64") {
      const out = new BigInt64Array(n);
      rows.forEach((r, i) => {
        const v = toNumber(cell(r), () => new DataError(file, r.line, where(r), `'${input.column}' must be a whole number, got ${JSON.stringify(cell(r))}`));
        // A missing id takes a value outside every declared range: the out-of-vocabulary row.
        if (Number.isNaN(v)) {
          out[i] = MISSING_ID;
          return;
        }
        if (!Number.isInteger(v)) throw new DataError(file, r.line, where(r), `'${input.column}' must be a whole number, got ${JSON.stringify(cell(r))}`);
        out[i] = BigInt(v);
      });
      feeds[input.name] = new ort.Tensor("int64", out, [n]);
    } else if (input.split_by !== undefined) {
      const sep = input.split_by;
      const lists = rows.map((r) => splitCell(cell(r), sep));
      const L = Math.max(1, ...lists.map((l) => l.length));
      const flat: string[] = new Array(n * L).fill("");
      lists.forEach((l, i) => l.forEach((v, j) => (flat[i * L + j] = v)));
      feeds[input.name] = new ort.Tensor("string", flat, [n, L]);
    } else {
      feeds[input.name] = new ort.Tensor("string", rows.map((r) => toText(cell(r))), [n]);
    }
  }
  return feeds;
}

const MISSING_ID = -(2n ** 62n);

/** A numeric cell: empty, NaN, NA or null → NaN (missing); anything else must parse, or a positioned error. */
export function numberCell(r: RawRow, column: string, file: string): number {
  const v = r.values[column];
  return toNumber(v, () => new DataError(file, r.line, r.columns?.[column], `'${column}' must be a number, got ${JSON.stringify(v)}`));
}

function toNumber(v: unknown, error: () => Error): number {
  if (v === undefined || v === null || v === "") return NaN;
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const t = v.trim();
    if (t === "" || /^(nan|null|na)$/i.test(t)) return NaN;
    const x = Number(t);
    if (Number.isNaN(x)) throw error();
    return x;
  }
  throw error();
}

function toText(v: unknown): string {
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : String(v);
}

function splitCell(v: unknown, sep: string): string[] {
  if (Array.isArray(v)) return v.map(toText).filter((s) => s !== "");
  const t = toText(v);
  return t === "" ? [] : t.split(sep).filter((s) => s !== "");
}
