/** Element types the model graphs use (names as in ONNX). */
export type DType = "float32" | "int64" | "int32" | "string" | "bool";

/** A dimension: a known size, or a symbol (the batch "N", or "?" when data-dependent). */
export type Dim = number | string;

/** A value in the graph: named once, typed and shaped when created (spox-style). */
export interface Tensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

export type AttrValue = number | string | number[] | string[] | { float: number } | { floats: number[] } | TensorData;

/** Constant or initializer data. */
export interface TensorData {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float32Array | BigInt64Array | string[] | Uint8Array;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function isStatic(shape: readonly Dim[]): shape is number[] {
  return shape.every((d) => typeof d === "number");
}

/** Numpy broadcasting of two shapes; unknown symbols broadcast against 1 and equal symbols. */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[], where: string): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else if (typeof x === "string" || typeof y === "string") out.push(typeof x === "string" ? x : y);
    else throw new Error(`${where}: shapes [${a}] and [${b}] do not broadcast`);
  }
  return out;
}

/** ONNX TensorProto element types of the dtypes mdrc uses. */
export const ONNX_ELEM_TYPE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, string: 8, bool: 9 };
