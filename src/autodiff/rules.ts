import { compilerAssert } from "../diagnostics/diagnostic.js";
import type { Node } from "../graph/builder.js";
import type { Graph } from "../graph/ops.js";
import type { DifferentiableOp } from "../graph/op-types.js";
import type { Dim, Tensor } from "../graph/tensor.js";

export interface GradContext {
  g: Graph;
  node: Node;
  inputs: Tensor[];
  outputs: Tensor[];
  /** Gradient of the loss with respect to each output (undefined: the output does not reach the loss). */
  dOut: (Tensor | undefined)[];
}

/** Returns one gradient per input (undefined where the input is not differentiable or unaffected). */
export type GradRule = (c: GradContext) => (Tensor | undefined)[];


/** Sums `grad` down to `shape` (undoing numpy broadcasting: leading axes and axes where shape has 1). */
export function unbroadcast(g: Graph, grad: Tensor, shape: readonly Dim[]): Tensor {
  let out = grad;
  const extra = out.shape.length - shape.length;
  const axes = shape.map((d, i) => (d === 1 && out.shape[i + extra] !== 1 ? i : -1)).filter((i) => i >= 0);
  // A bias's gradient, [N, C] → [C] or [E, N, C] → [E, 1, C] for a stack of them, as ones @ grad: it runs
  // as fast as ReduceSum on one thread and scales on two, where ONNX Runtime's ReduceSum over that axis
  // runs 3–4× slower on 2 threads than on 1.
  const rows = out.shape.length - 2;
  if (out.dtype === "float32" && rows >= 0 && extra + axes.length === 1 && (extra === 1 ? rows === 0 : axes[0] === rows)) {
    const sums = g.matmul(onesOf(g, out, rows), out);
    return extra ? sums : g.unsqueeze(sums, [rows]);
  }
  if (extra > 0) out = g.reduceSum(out, Array.from({ length: extra }, (_, i) => i));
  if (axes.length) out = g.reduceSum(out, axes, true);
  return out;
}

/** A vector of ones as long as axis `axis` of `x`. */
const onesOf = (g: Graph, x: Tensor, axis: number) => g.filled(g.gather(g.shapeOf(x), g.ints([axis], [1])), 1, "float32", [x.shape[axis]]);

const zerosLike = (g: Graph, x: Tensor) => g.filled(g.shapeOf(x), 0, "float32", [...x.shape]);
const swapLast = (g: Graph, x: Tensor) => {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return g.transpose(x, perm);
};

/**
 * One rule per op kind the model builder emits. The engine (backprop.ts) walks the graph, sums fan-out
 * and only asks for gradients of inputs that lead to parameters.
 */
export const gradRules: Record<DifferentiableOp, GradRule> = {
  Identity: ({ dOut }) => [dOut[0]],
  Add: ({ g, inputs: [a, b], dOut: [d] }) => [unbroadcast(g, d!, a.shape), unbroadcast(g, d!, b.shape)],
  Sub: ({ g, inputs: [a, b], dOut: [d] }) => [unbroadcast(g, d!, a.shape), unbroadcast(g, g.neg(d!), b.shape)],
  Mul: ({ g, inputs: [a, b], dOut: [d] }) => [unbroadcast(g, g.mul(d!, b), a.shape), unbroadcast(g, g.mul(d!, a), b.shape)],
  Div: ({ g, inputs: [a, b], outputs: [y], dOut: [d] }) => {
    const da = g.div(d!, b);
    return [unbroadcast(g, da, a.shape), unbroadcast(g, g.neg(g.mul(da, y)), b.shape)];
  },
  Neg: ({ g, dOut: [d] }) => [g.neg(d!)],
  MatMul: ({ g, inputs: [a, b], dOut: [d] }) => {
    const da = g.matmul(d!, swapLast(g, b));
    const db = a.shape.length === 2 && d!.shape.length === 2 ? g.matmul(g.transpose(a, [1, 0]), d!) : g.matmul(swapLast(g, a), d!);
    return [unbroadcast(g, da, a.shape), unbroadcast(g, db, b.shape)];
  },
  // Masked by the output (y > 0 ⟺ x > 0), so the pre-activation has one reader and ORT can fuse MatMul+Add+Relu.
  // A float mask and a Mul: ORT runs the broadcasting Where about 3× slower than Cast + Mul on these shapes.
  Relu: ({ g, outputs: [y], dOut: [d] }) => [g.mul(d!, g.cast(g.greater(y, g.scalar(0)), "float32"))],
  LeakyRelu: ({ g, node, inputs: [x], dOut: [d] }) => [g.where(g.greater(x, g.scalar(0)), d!, g.mul(d!, g.scalar((node.attributes.alpha as { float: number }).float)))],
  Elu: ({ g, node, inputs: [x], outputs: [y], dOut: [d] }) =>
    [g.where(g.greater(x, g.scalar(0)), d!, g.mul(d!, g.add(y, g.scalar((node.attributes.alpha as { float: number }).float))))],
  Sigmoid: ({ g, outputs: [y], dOut: [d] }) => [g.mul(d!, g.mul(y, g.sub(g.scalar(1), y)))],
  Tanh: ({ g, outputs: [y], dOut: [d] }) => [g.mul(d!, g.sub(g.scalar(1), g.mul(y, y)))],
  Exp: ({ g, outputs: [y], dOut: [d] }) => [g.mul(d!, y)],
  Log: ({ g, inputs: [x], dOut: [d] }) => [g.div(d!, x)],
  Sqrt: ({ g, outputs: [y], dOut: [d] }) => [g.div(d!, g.mul(y, g.scalar(2)))],
  Erf: ({ g, inputs: [x], dOut: [d] }) => [g.mul(d!, g.mul(g.exp(g.neg(g.mul(x, x))), g.scalar(2 / Math.sqrt(Math.PI))))],
  Softplus: ({ g, inputs: [x], dOut: [d] }) => [g.mul(d!, g.sigmoid(x))],
  Abs: ({ g, inputs: [x], dOut: [d] }) => [g.where(g.less(x, g.scalar(0)), g.neg(d!), d!)],
  Max: ({ g, inputs: [a, b], dOut: [d] }) => {
    const takeA = g.greaterOrEqual(a, b);
    return [unbroadcast(g, g.where(takeA, d!, g.scalar(0)), a.shape), unbroadcast(g, g.where(takeA, g.scalar(0), d!), b.shape)];
  },
  Min: ({ g, inputs: [a, b], dOut: [d] }) => {
    const takeA = g.less(a, b);
    return [unbroadcast(g, g.where(takeA, d!, g.scalar(0)), a.shape), unbroadcast(g, g.where(takeA, g.scalar(0), d!), b.shape)];
  },
  Softmax: ({ g, node, outputs: [y], dOut: [d] }) => {
    const axis = node.attributes.axis as number;
    return [g.mul(y, g.sub(d!, g.reduceSum(g.mul(d!, y), [axis], true)))];
  },
  Where: ({ g, inputs: [c, a, b], dOut: [d] }) => [
    undefined,
    a.dtype === "float32" ? unbroadcast(g, g.where(c, d!, g.scalar(0)), a.shape) : undefined,
    b.dtype === "float32" ? unbroadcast(g, g.where(c, g.scalar(0), d!), b.shape) : undefined,
  ],
  Cast: () => [undefined],
  Reshape: ({ g, inputs: [x], dOut: [d] }) => [g.reshapeAs(d!, x), undefined],
  Flatten: ({ g, inputs: [x], dOut: [d] }) => [g.reshapeAs(d!, x)],
  Transpose: ({ g, node, dOut: [d] }) => {
    const perm = node.attributes.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(d!, inverse)];
  },
  Unsqueeze: ({ g, inputs: [x], dOut: [d] }) => [g.reshapeAs(d!, x), undefined],
  Squeeze: ({ g, inputs: [x], dOut: [d] }) => [g.reshapeAs(d!, x), undefined],
  Expand: ({ g, inputs: [x], dOut: [d] }) => [unbroadcast(g, d!, x.shape), undefined],
  ReduceSum: ({ g, node, inputs: [x], dOut: [d] }) => [expandBack(g, node, x, d!), undefined],
  ReduceMean: ({ g, node, inputs: [x], outputs: [y], dOut: [d] }) => {
    const count = g.div(g.cast(g.size(x), "float32"), g.cast(g.size(y), "float32"));
    return [g.div(expandBack(g, node, x, d!), count), undefined];
  },
  Concat: ({ g, node, inputs, dOut: [d] }) => {
    const axis = node.attributes.axis as number;
    const sizes = inputs.map((x) => x.shape[axis]);
    if (sizes.every((s) => typeof s === "number")) {
      return g.splitLike(d!, g.ints(sizes as number[]), axis, inputs);
    }
    const runtime = g.concat(inputs.map((x) => g.gather(g.shapeOf(x), g.ints([axis]))), 0);
    return g.splitLike(d!, runtime, axis, inputs);
  },
  Split: ({ g, node, outputs, dOut }) => {
    const axis = node.attributes.axis as number;
    const parts = outputs.map((o, i) => dOut[i] ?? zerosLike(g, o));
    return [g.concat(parts, axis), undefined];
  },
  Gather: ({ g, node, inputs: [data, idx], dOut: [d] }) => {
    compilerAssert((node.attributes.axis as number) === 0, "Gather gradient is implemented for axis 0");
    // Batch-sized scatter-add (the data is a batch's unique rows or a small table, never a full table).
    const zeros = zerosLike(g, data);
    // ScatterND takes int64 indices only (a training step's touched rows are int32).
    const indices = g.unsqueeze(idx.dtype === "int64" ? idx : g.cast(idx, "int64"), [-1]);
    return [g.scatterND(zeros, indices, d!, "add"), undefined];
  },
  GatherElements: ({ g, node, inputs: [data, idx], dOut: [d] }) => [
    g.scatterElements(zerosLike(g, data), idx, d!, node.attributes.axis as number, "add"),
    undefined,
  ],
  TopK: ({ g, inputs: [x], outputs: [, indices], dOut: [d] }) => [
    d ? g.scatterElements(zerosLike(g, x), indices, d, -1) : undefined,
    undefined,
  ],
  LayerNormalization: () => {
    throw new Error("training graphs decompose LayerNormalization into primitive ops");
  },
};

/** The gradient of a reduction, broadcast back to the input's shape. */
function expandBack(g: Graph, node: Node, x: Tensor, d: Tensor): Tensor {
  const keep = (node.attributes.keepdims as number | undefined) ?? 1;
  let dd = d;
  if (!keep) {
    const axesName = node.inputs[1];
    const axes = axesName ? (g.constantValue(axesName) as number[]) : (node.attributes.axes as number[]);
    const rank = x.shape.length;
    const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
    dd = g.unsqueeze(d, norm);
  }
  return g.expand(dd, g.shapeOf(x), [...x.shape]);
}
