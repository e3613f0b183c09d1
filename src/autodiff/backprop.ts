import { compilerAssert } from "../diagnostics/diagnostic.js";
import type { Graph } from "../graph/ops.js";
import type { Tensor } from "../graph/tensor.js";
import { isDifferentiable, nonDifferentiableOps } from "../graph/op-types.js";
import { gradRules } from "./rules.js";

/**
 * Reverse-mode differentiation of `loss` (a scalar) with respect to `wrt`, appending the backward ops to
 * the same graph. The engine finds which values depend on `wrt`, walks the forward nodes in reverse,
 * asks each op's rule for its input gradients and sums fan-out; rules never see the topology.
 */
export function backprop(g: Graph, loss: Tensor, wrt: Tensor[]): Map<string, Tensor> {
  const forward = [...g.nodes];
  const reaches = new Set(wrt.map((t) => t.name));
  for (const n of forward) {
    if (nonDifferentiableOps.has(n.opType)) continue;
    if (!n.inputs.some((i) => reaches.has(i))) continue;
    for (const o of n.outputs) if (g.values.get(o)?.dtype === "float32") reaches.add(o);
  }
  compilerAssert(reaches.has(loss.name), "the loss does not depend on any parameter");
  const grads = new Map<string, Tensor>([[loss.name, g.scalar(1)]]);
  const accumulate = (name: string, grad: Tensor) => {
    const prev = grads.get(name);
    grads.set(name, prev ? g.add(prev, grad) : grad);
  };
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    if (nonDifferentiableOps.has(node.opType)) continue;
    const dOut = node.outputs.map((o) => grads.get(o));
    if (dOut.every((d) => d === undefined)) continue;
    if (!node.inputs.some((name) => reaches.has(name))) continue;
    compilerAssert(isDifferentiable(node.opType), `no gradient rule for ${node.opType} (${node.name})`);
    const rule = gradRules[node.opType];
    const inputs = node.inputs.map((name) => g.values.get(name)!);
    const outputs = node.outputs.map((name) => g.values.get(name)!);
    // Backward nodes are named after the forward node they differentiate.
    const inGrads = g.scope(`grad.${node.name}`, () => rule({ g, node, inputs, outputs, dOut }));
    // One gradient per input (an axes input that older opsets carry as an attribute simply has none).
    compilerAssert(inGrads.length >= node.inputs.length && inGrads.slice(node.inputs.length).every((x) => x === undefined),
      `${node.opType} rule returned ${inGrads.length} gradients for ${node.inputs.length} inputs`);
    node.inputs.forEach((name, j) => {
      const grad = inGrads[j];
      if (!grad || !reaches.has(name)) return;
      const x = inputs[j];
      compilerAssert(grad.shape.length === x.shape.length && grad.shape.every((d, k) => typeof d !== "number" || typeof x.shape[k] !== "number" || d === x.shape[k]),
        `gradient of ${name} has shape [${grad.shape}], the value [${x.shape}] (${node.opType})`);
      accumulate(name, grad);
    });
  }
  const out = new Map<string, Tensor>();
  for (const t of wrt) {
    const grad = grads.get(t.name);
    // A parameter the loss does not reach (e.g. an unused pool) gets a zero gradient.
    out.set(t.name, grad ?? g.filled(g.shapeOf(t), 0, "float32", [...t.shape]));
  }
  return out;
}
