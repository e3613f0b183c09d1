import { compilerAssert } from "../diagnostics/diagnostic.js";
import { GraphBuilder } from "./builder.js";
import type { OpType } from "./op-types.js";
import { broadcastShapes, ONNX_ELEM_TYPE, type DType, type Dim, type Tensor } from "./tensor.js";
import { SEED_INPUT } from "./names.js";

const f32 = (values: number[], shape: number[] = [values.length]) => ({ dtype: "float32" as const, shape, data: Float32Array.from(values) });
const i64 = (values: number[], shape: number[] = [values.length]) => ({ dtype: "int64" as const, shape, data: BigInt64Array.from(values.map(BigInt)) });

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  compilerAssert(a >= 0 && a < rank, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

function mulDims(a: Dim, b: Dim): Dim {
  return typeof a === "number" && typeof b === "number" ? a * b : "?";
}

/**
 * One constructor per ONNX op, each inferring its output's dtype and shape at once, so a wrong shape is
 * caught while the model is built, next to the spec construct that asked for it.
 */
export class Graph extends GraphBuilder {
  // ---- constants
  scalar(v: number): Tensor {
    return this.constant(f32([v], []), "scalar");
  }
  floats(values: number[], shape?: number[]): Tensor {
    return this.constant(f32(values, shape));
  }
  ints(values: number[], shape?: number[]): Tensor {
    return this.constant(i64(values, shape), "ints");
  }

  // ---- elementwise
  private binary(op: OpType, a: Tensor, b: Tensor, dtype: DType = a.dtype): Tensor {
    compilerAssert(a.dtype === b.dtype, `${op} of ${a.dtype} ${a.name} and ${b.dtype} ${b.name}`);
    return this.node(op, [a, b], {}, [{ dtype, shape: broadcastShapes(a.shape, b.shape, op) }])[0];
  }
  add(a: Tensor, b: Tensor) { return this.binary("Add", a, b); }
  sub(a: Tensor, b: Tensor) { return this.binary("Sub", a, b); }
  mul(a: Tensor, b: Tensor) { return this.binary("Mul", a, b); }
  div(a: Tensor, b: Tensor) { return this.binary("Div", a, b); }
  pow(a: Tensor, b: Tensor) { return this.binary("Pow", a, b); }
  max(a: Tensor, b: Tensor) { return this.binary("Max", a, b); }
  min(a: Tensor, b: Tensor) { return this.binary("Min", a, b); }
  equal(a: Tensor, b: Tensor) { return this.binary("Equal", a, b, "bool"); }
  greater(a: Tensor, b: Tensor) { return this.binary("Greater", a, b, "bool"); }
  greaterOrEqual(a: Tensor, b: Tensor) { return this.binary("GreaterOrEqual", a, b, "bool"); }
  less(a: Tensor, b: Tensor) { return this.binary("Less", a, b, "bool"); }
  and(a: Tensor, b: Tensor) { return this.binary("And", a, b, "bool"); }
  or(a: Tensor, b: Tensor) { return this.binary("Or", a, b, "bool"); }

  private unary(op: OpType, x: Tensor, attrs: Record<string, number> = {}, dtype: DType = x.dtype): Tensor {
    return this.node(op, [x], attrs, [{ dtype, shape: [...x.shape] }])[0];
  }
  relu(x: Tensor) { return this.unary("Relu", x); }
  sigmoid(x: Tensor) { return this.unary("Sigmoid", x); }
  tanh(x: Tensor) { return this.unary("Tanh", x); }
  exp(x: Tensor) { return this.unary("Exp", x); }
  log(x: Tensor) { return this.unary("Log", x); }
  neg(x: Tensor) { return this.unary("Neg", x); }
  sqrt(x: Tensor) { return this.unary("Sqrt", x); }
  abs(x: Tensor) { return this.unary("Abs", x); }
  erf(x: Tensor) { return this.unary("Erf", x); }
  not(x: Tensor) { return this.unary("Not", x); }
  softplus(x: Tensor) { return this.unary("Softplus", x); }
  isNaN(x: Tensor) { return this.unary("IsNaN", x, {}, "bool"); }
  leakyRelu(x: Tensor, alpha = 0.01) { return this.node("LeakyRelu", [x], { alpha: { float: alpha } }, [{ dtype: x.dtype, shape: [...x.shape] }])[0]; }
  elu(x: Tensor, alpha = 1) { return this.node("Elu", [x], { alpha: { float: alpha } }, [{ dtype: x.dtype, shape: [...x.shape] }])[0]; }
  identity(x: Tensor) { return this.unary("Identity", x); }
  cast(x: Tensor, to: DType): Tensor {
    return this.node("Cast", [x], { to: ONNX_ELEM_TYPE[to] }, [{ dtype: to, shape: [...x.shape] }])[0];
  }
  where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    compilerAssert(cond.dtype === "bool" && a.dtype === b.dtype, `Where(${cond.dtype}, ${a.dtype}, ${b.dtype})`);
    const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, "Where"), b.shape, "Where");
    return this.node("Where", [cond, a, b], {}, [{ dtype: a.dtype, shape }])[0];
  }

  // ---- linear algebra and normalisation
  /** numpy's matmul; `a` may be a vector (`[K] @ [..., K, M]` gives `[..., M]`), `b` may not. */
  matmul(a: Tensor, b: Tensor): Tensor {
    compilerAssert(a.shape.length >= 1 && b.shape.length >= 2, `MatMul needs a of rank ≥ 1 and b of rank ≥ 2, got [${a.shape}] @ [${b.shape}]`);
    compilerAssert(a.dtype === "float32" && b.dtype === "float32", `MatMul of ${a.dtype} and ${b.dtype}`);
    const k1 = a.shape[a.shape.length - 1];
    const k2 = b.shape[b.shape.length - 2];
    compilerAssert(typeof k1 !== "number" || typeof k2 !== "number" || k1 === k2, `MatMul inner dims differ: [${a.shape}] @ [${b.shape}]`);
    // A vector has no batch and no row axis: [K] @ [..., K, M] is [..., M].
    const rows = a.shape.length === 1 ? [] : [a.shape[a.shape.length - 2]];
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "MatMul");
    return this.node("MatMul", [a, b], {}, [{ dtype: a.dtype, shape: [...batch, ...rows, b.shape[b.shape.length - 1]] }])[0];
  }
  softmax(x: Tensor, axis = -1): Tensor {
    return this.node("Softmax", [x], { axis }, [{ dtype: x.dtype, shape: [...x.shape] }])[0];
  }
  layerNorm(x: Tensor, scale: Tensor, bias: Tensor, epsilon = 1e-5): Tensor {
    if (this.training) {
      // Primitive ops in training graphs, so the gradient comes from their rules.
      const centered = this.sub(x, this.reduceMean(x, [-1], true));
      const variance = this.reduceMean(this.mul(centered, centered), [-1], true);
      return this.add(this.mul(this.div(centered, this.sqrt(this.add(variance, this.scalar(epsilon)))), scale), bias);
    }
    return this.node("LayerNormalization", [x, scale, bias], { axis: -1, epsilon: { float: epsilon } }, [{ dtype: x.dtype, shape: [...x.shape] }])[0];
  }

  // ---- shape manipulation
  concat(xs: Tensor[], axis: number): Tensor {
    compilerAssert(xs.every((x) => x.dtype === xs[0].dtype), `Concat of ${xs.map((x) => x.dtype).join(", ")}`);
    if (xs.length === 1) return xs[0];
    const rank = xs[0].shape.length;
    const a = normAxis(axis, rank);
    const shape = [...xs[0].shape];
    shape[a] = xs.reduce<Dim>((n, x) => (typeof n === "number" && typeof x.shape[a] === "number" ? n + (x.shape[a] as number) : "?"), 0);
    return this.node("Concat", xs, { axis: a }, [{ dtype: xs[0].dtype, shape }])[0];
  }
  /** Reshape with ONNX's 0 (copy) and -1 (infer) conventions; `symbolic` names the inferred dim. */
  reshape(x: Tensor, target: number[], symbolic?: Dim): Tensor {
    const shape: Dim[] = target.map((d, i) => (d === 0 ? x.shape[i] : d === -1 ? symbolic ?? "?" : d));
    return this.node("Reshape", [x, this.ints(target)], {}, [{ dtype: x.dtype, shape }])[0];
  }
  transpose(x: Tensor, perm: number[]): Tensor {
    return this.node("Transpose", [x], { perm }, [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }])[0];
  }
  unsqueeze(x: Tensor, axes: number[]): Tensor {
    const shape = [...x.shape];
    for (const a of [...axes].sort((p, q) => p - q)) shape.splice(a < 0 ? a + shape.length + 1 : a, 0, 1);
    return this.node("Unsqueeze", [x, this.ints(axes)], {}, [{ dtype: x.dtype, shape }])[0];
  }
  squeeze(x: Tensor, axes: number[]): Tensor {
    const drop = new Set(axes.map((a) => normAxis(a, x.shape.length)));
    return this.node("Squeeze", [x, this.ints(axes)], {}, [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !drop.has(i)) }])[0];
  }
  flatten2d(x: Tensor): Tensor {
    return this.node("Flatten", [x], { axis: 1 }, [{ dtype: x.dtype, shape: [x.shape[0], x.shape.slice(1).reduce(mulDims, 1)] }])[0];
  }
  shapeOf(x: Tensor): Tensor {
    return this.node("Shape", [x], {}, [{ dtype: "int64", shape: [x.shape.length] }])[0];
  }
  /** A tensor of `value` whose shape is given by a 1-D int64 tensor. */
  filled(shape: Tensor, value: number, dtype: "float32" | "int64", dims: Dim[]): Tensor {
    const v = dtype === "float32" ? f32([value], [1]) : i64([value], [1]);
    return this.node("ConstantOfShape", [shape], { value: v }, [{ dtype, shape: dims }])[0];
  }
  expand(x: Tensor, shape: Tensor, dims: Dim[]): Tensor {
    return this.node("Expand", [x, shape], {}, [{ dtype: x.dtype, shape: dims }])[0];
  }

  /** Splits along axis 0 into `parts` equal pieces. */
  split(x: Tensor, parts: number): Tensor[] {
    const d = x.shape[0];
    compilerAssert(typeof d === "number" && d % parts === 0, `cannot split [${x.shape}] into ${parts}`);
    const shape = [d / parts, ...x.shape.slice(1)];
    return this.node("Split", [x, this.ints(Array(parts).fill(d / parts))], { axis: 0 }, Array.from({ length: parts }, () => ({ dtype: x.dtype, shape: [...shape] })));
  }

  /** Splits along axis 0 into `parts` pieces whose sizes are a runtime int64 tensor. */
  splitBy(x: Tensor, sizes: Tensor, parts: number, names: Dim[]): Tensor[] {
    return this.node("Split", [x, sizes], { axis: 0 }, names.slice(0, parts).map((n) => ({ dtype: x.dtype, shape: [n, ...x.shape.slice(1)] })));
  }

  /** Splits `x` along `axis` into pieces shaped like `likes` (sizes a constant or runtime int64 tensor). */
  splitLike(x: Tensor, sizes: Tensor, axis: number, likes: Tensor[]): Tensor[] {
    return this.node("Split", [x, sizes], { axis }, likes.map((t) => ({ dtype: t.dtype, shape: [...t.shape] })));
  }

  /** `x` reshaped to the (runtime) shape of `like`, keeping `like`'s static shape. */
  reshapeAs(x: Tensor, like: Tensor): Tensor {
    return this.node("Reshape", [x, this.shapeOf(like)], {}, [{ dtype: like.dtype, shape: [...like.shape] }])[0];
  }

  /** Number of elements of `x`, an int64 scalar. */
  size(x: Tensor): Tensor {
    return this.node("Size", [x], {}, [{ dtype: "int64", shape: [] }])[0];
  }

  // ---- indexing
  /** `name`: the value's name, where the host or a later pass refers to it. */
  gather(data: Tensor, indices: Tensor, axis = 0, name?: string): Tensor {
    const a = normAxis(axis, data.shape.length);
    const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
    return this.node("Gather", [data, indices], { axis: a }, [{ dtype: data.dtype, shape }], name)[0];
  }
  gatherElements(data: Tensor, indices: Tensor, axis: number): Tensor {
    return this.node("GatherElements", [data, indices], { axis }, [{ dtype: data.dtype, shape: [...indices.shape] }])[0];
  }
  gatherND(data: Tensor, indices: Tensor, dims: Dim[]): Tensor {
    return this.node("GatherND", [data, indices], {}, [{ dtype: data.dtype, shape: dims }])[0];
  }
  /** `data` with `updates` written at `indices` along `axis` (added, with `reduction: "add"`). */
  scatterElements(data: Tensor, indices: Tensor, updates: Tensor, axis: number, reduction?: "add"): Tensor {
    return this.node("ScatterElements", [data, indices, updates], reduction ? { axis, reduction } : { axis }, [{ dtype: data.dtype, shape: [...data.shape] }])[0];
  }
  scatterND(data: Tensor, indices: Tensor, updates: Tensor, reduction?: "add"): Tensor {
    return this.node("ScatterND", [data, indices, updates], reduction ? { reduction } : {}, [{ dtype: data.dtype, shape: [...data.shape] }])[0];
  }
  /** Indices of the non-zero entries: [rank, count]. */
  nonZero(x: Tensor, count: Dim = "?"): Tensor {
    return this.node("NonZero", [x], {}, [{ dtype: "int64", shape: [x.shape.length, count] }])[0];
  }
  cumSum(x: Tensor, axis: number, exclusive = false): Tensor {
    return this.node("CumSum", [x, this.ints([axis], [])], exclusive ? { exclusive: 1 } : {}, [{ dtype: x.dtype, shape: [...x.shape] }])[0];
  }
  topK(x: Tensor, k: number): [Tensor, Tensor] {
    const shape = [...x.shape.slice(0, -1), k];
    const [v, i] = this.node("TopK", [x, this.ints([k])], { axis: -1, largest: 1, sorted: 1 }, [{ dtype: x.dtype, shape }, { dtype: "int64", shape }]);
    return [v, i];
  }
  oneHotMask(indices: Tensor, depth: number): Tensor {
    // Equal against 0..depth-1 broadcast along a new last axis: standard ops only, any opset.
    const range = this.ints(Array.from({ length: depth }, (_, i) => i));
    return this.equal(this.unsqueeze(indices, [-1]), range);
  }

  // ---- reductions (axes moved from attribute to input in opset 13 for ReduceSum, 18 for the rest)
  private reduce(op: "ReduceSum" | "ReduceMean" | "ReduceMax", x: Tensor, axes: number[], keepdims: boolean): Tensor {
    const norm = axes.map((a) => normAxis(a, x.shape.length));
    const shape = keepdims ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !norm.includes(i));
    const axesAsInput = op === "ReduceSum" ? this.opset >= 13 : this.opset >= 18;
    return axesAsInput
      ? this.node(op, [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 }, [{ dtype: x.dtype, shape }])[0]
      : this.node(op, [x], { axes, keepdims: keepdims ? 1 : 0 }, [{ dtype: x.dtype, shape }])[0];
  }
  reduceSum(x: Tensor, axes: number[], keepdims = false) { return this.reduce("ReduceSum", x, axes, keepdims); }
  reduceMean(x: Tensor, axes: number[], keepdims = false) { return this.reduce("ReduceMean", x, axes, keepdims); }
  reduceMax(x: Tensor, axes: number[], keepdims = false) { return this.reduce("ReduceMax", x, axes, keepdims); }

  // ---- training-time randomness
  private seedInput?: Tensor;
  private salt = 0;

  /** The `seed` input of a training step: every random draw is a function of (seed, call site, element). */
  seed(): Tensor {
    return (this.seedInput ??= this.input(SEED_INPUT, "float32", [], "seed of this step's dropout and router noise"));
  }

  /**
   * Uniform [0, 1) values shaped like `x`, hashed from the element index, the call site and the seed
   * input (fract(sin(·)·43758.5453)): standard ops only, and reproducible for a given seed, so an
   * interrupted run resumes with the same draws.
   */
  randomUniformLike(x: Tensor): Tensor {
    const salt = ++this.salt;
    const ones = this.filled(this.shapeOf(x), 1, "float32", [...x.shape]);
    const index = this.node("Reshape", [this.cumSum(this.reshape(ones, [-1]), 0), this.shapeOf(x)], {}, [{ dtype: "float32", shape: [...x.shape] }])[0];
    const t = this.add(this.mul(index, this.scalar(12.9898)), this.add(this.mul(this.seed(), this.scalar(78.233)), this.scalar(salt * 37.719)));
    const s = this.mul(this.node("Sin", [t], {}, [{ dtype: "float32", shape: [...x.shape] }])[0], this.scalar(43758.5453));
    return this.sub(s, this.node("Floor", [s], {}, [{ dtype: "float32", shape: [...x.shape] }])[0]);
  }

  /** Standard normal values shaped like `x` (Box–Muller on two uniform draws). */
  randomNormalLike(x: Tensor): Tensor {
    const u1 = this.max(this.randomUniformLike(x), this.scalar(1e-7));
    const u2 = this.randomUniformLike(x);
    const r = this.sqrt(this.mul(this.log(u1), this.scalar(-2)));
    return this.mul(r, this.node("Cos", [this.mul(u2, this.scalar(2 * Math.PI))], {}, [{ dtype: "float32", shape: [...x.shape] }])[0]);
  }

  // ---- strings (ai.onnx.ml for lookups; StringSplit needs opset 20)
  labelEncoder(x: Tensor, keys: string[], values: number[], defaultValue: number): Tensor {
    return this.node("LabelEncoder", [x], { keys_strings: keys, values_int64s: values, default_int64: defaultValue },
      [{ dtype: "int64", shape: [...x.shape] }], undefined, "ai.onnx.ml")[0];
  }
  stringSplit(x: Tensor, delimiter: string): Tensor {
    compilerAssert(this.opset >= 20, "StringSplit needs opset 20");
    return this.node("StringSplit", [x], { delimiter }, [{ dtype: "string", shape: [...x.shape, "?"] }, { dtype: "int64", shape: [...x.shape] }])[0];
  }
}
