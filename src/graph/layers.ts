import type { Activation } from "../spec/types.js";
import { filled, uniform } from "./init.js";
import type { Graph } from "./ops.js";
import type { Tensor } from "./tensor.js";

export interface MlpShape {
  inWidth: number;
  layers: readonly number[];
  activation: Activation;
  layerNorm: boolean;
  /** Whether the last layer is followed by the activation (experts: yes; a logit layer: no). */
  activateLast: boolean;
  /** Dropout rate after every activated layer, in training graphs only. */
  dropout: number;
}

/** Inverted dropout: zero a `rate` share of activations, scale the rest by 1/(1 − rate). */
function dropout(g: Graph, h: Tensor, rate: number): Tensor {
  if (!g.training || rate <= 0) return h;
  const keep = g.cast(g.greaterOrEqual(g.randomUniformLike(h), g.scalar(rate)), "float32");
  return g.mul(h, g.mul(keep, g.scalar(1 / (1 - rate))));
}

/** Parameters of one MLP layer, possibly stacked over `copies` experts: weight [copies?, in, out]. */
export interface LayerParams {
  weight: Tensor;
  bias: Tensor;
  lnScale?: Tensor;
  lnBias?: Tensor;
}

/**
 * Creates the parameters of an MLP stacked over `copies` experts (PyTorch's nn.Linear initialisation:
 * U(±1/√in) for weights and biases). `copies` undefined means a plain [in, out] layer.
 */
export function mlpParams(g: Graph, seed: number, shape: MlpShape, copies?: number): LayerParams[] {
  const out: LayerParams[] = [];
  let w = shape.inWidth;
  shape.layers.forEach((width, i) => {
    g.scope(`dense${i + 1}`, () => {
      const bound = 1 / Math.sqrt(w);
      const lead = copies === undefined ? [] : [copies];
      const weightName = g.fresh("weight");
      const biasName = g.fresh("bias");
      const p: LayerParams = {
        weight: g.paramNamed(weightName, uniform(seed, weightName, [...lead, w, width], bound)),
        bias: g.paramNamed(biasName, uniform(seed, biasName, [...lead, width], bound)),
      };
      const hasNorm = shape.layerNorm && (i < shape.layers.length - 1 || shape.activateLast);
      if (hasNorm) {
        const s = g.fresh("ln_scale");
        const b = g.fresh("ln_bias");
        p.lnScale = g.paramNamed(s, filled([...lead, width], 1));
        p.lnBias = g.paramNamed(b, filled([...lead, width], 0));
      }
      out.push(p);
    });
    w = width;
  });
  return out;
}

export function activate(g: Graph, x: Tensor, activation: Activation): Tensor {
  switch (activation) {
    case "relu": return g.relu(x);
    case "sigmoid": return g.sigmoid(x);
    case "tanh": return g.tanh(x);
    case "silu": return g.mul(x, g.sigmoid(x));
    case "gelu": // exact GELU, x·Φ(x); the Gelu op itself only exists from opset 20
      return g.mul(g.mul(x, g.scalar(0.5)), g.add(g.erf(g.mul(x, g.scalar(Math.SQRT1_2))), g.scalar(1)));
    case "leaky_relu": return g.leakyRelu(x);
    case "elu": return g.elu(x);
    case "identity": return x;
  }
}

/**
 * Layer norm whose scale/shift may be stacked per expert: [E, w] against activations [N, E, w], or as
 * [E, 1, w] against [E, N, w].
 */
function norm(g: Graph, h: Tensor, p: LayerParams, rowsFirst = false): Tensor {
  if (!p.lnScale || !p.lnBias) return h;
  if (p.lnScale.shape.length === 1) return g.layerNorm(h, p.lnScale, p.lnBias);
  const ones = g.floats([1], [1]);
  const zeros = g.floats([0], [1]);
  const n = g.layerNorm(h, ones, zeros);
  return rowsFirst ? g.add(g.mul(n, p.lnScale), p.lnBias) : g.add(g.mul(n, g.unsqueeze(p.lnScale, [1])), g.unsqueeze(p.lnBias, [1]));
}

/** Runs an MLP on x [n, in] with plain parameters. */
export function mlpForward(g: Graph, x: Tensor, params: LayerParams[], shape: MlpShape): Tensor {
  let h = x;
  params.forEach((p, i) => {
    h = g.add(g.matmul(h, p.weight), p.bias);
    const last = i === params.length - 1;
    if (!last || shape.activateLast) h = dropout(g, activate(g, norm(g, h, p), shape.activation), shape.dropout);
  });
  return h;
}

/** Stacked activations expert-major [E, N, w] (what batched MatMul needs) or row-major [N, E, w] (what a per-row selection needs). */
export type StackedLayout = "experts-first" | "rows-first";

/**
 * Runs every expert of a stacked pool on every row: x [N, in] → [E, N, out] (or [N, E, out]). The first
 * layer is one wide MatMul against the weights laid out [in, E·h]; its result is rows-first, and stays so
 * through elementwise work and one-wide layers (a multiply and a sum, no MatMul); a batched MatMul layer
 * turns it expert-first. Each change of layout is a Transpose, forward and backward, so there are as few
 * as the layers allow.
 */
export function stackedMlpForward(g: Graph, x: Tensor, params: LayerParams[], shape: MlpShape, copies: number, layout: StackedLayout = "experts-first"): Tensor {
  let h: Tensor | undefined;
  let rowsFirst = true;
  params.forEach((p, i) => {
    const width = shape.layers[i];
    if (i === 0) {
      const wide = g.reshape(g.transpose(p.weight, [1, 0, 2]), [shape.inWidth, copies * width]);
      const flat = g.add(g.matmul(x, wide), g.reshape(p.bias, [copies * width]));
      h = g.reshape(flat, [-1, copies, width], x.shape[0]);
    } else if (width === 1 && rowsFirst) {
      const column = g.reshape(p.weight, [copies, shape.layers[i - 1]]);
      h = g.add(g.reduceSum(g.mul(h!, column), [2], true), p.bias); // bias [E, 1]
    } else {
      if (rowsFirst) h = g.transpose(h!, [1, 0, 2]);
      rowsFirst = false;
      h = g.add(g.matmul(h!, p.weight), g.unsqueeze(p.bias, [1]));
    }
    const last = i === params.length - 1;
    if (!last || shape.activateLast) h = dropout(g, activate(g, norm(g, h!, p, rowsFirst), shape.activation), shape.dropout);
  });
  return rowsFirst === (layout === "rows-first") ? h! : g.transpose(h!, [1, 0, 2]);
}

const slices = new WeakMap<Tensor, Tensor[]>();

/**
 * Expert c's view of a stacked parameter [E, …]: one Split per parameter serves every expert (ORT folds
 * it for initializers; in training its gradient is a single Concat, not E scatters).
 */
function slice(g: Graph, t: Tensor, c: number): Tensor {
  let parts = slices.get(t);
  if (!parts) {
    const E = t.shape[0] as number;
    parts = E === 1 ? [g.squeeze(t, [0])] : g.split(t, E).map((x) => g.squeeze(x, [0]));
    slices.set(t, parts);
  }
  return parts[c];
}

/** The parameters of expert `c` of a stacked pool. */
export function expertSlice(g: Graph, params: LayerParams[], c: number): LayerParams[] {
  return params.map((p) => ({
    weight: slice(g, p.weight, c),
    bias: slice(g, p.bias, c),
    ...(p.lnScale && p.lnBias ? { lnScale: slice(g, p.lnScale, c), lnBias: slice(g, p.lnBias, c) } : {}),
  }));
}
