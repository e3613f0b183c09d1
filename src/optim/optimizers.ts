import type { Graph } from "../graph/ops.js";
import type { Tensor } from "../graph/tensor.js";
import type { TrainSpec } from "../spec/types.js";

/** Optimizer state slots per parameter, by optimizer. */
export function stateSlots(train: TrainSpec): string[] {
  switch (train.optimizer) {
    case "adam": return ["adam_m", "adam_v"];
    case "adagrad": return ["adagrad_sum"];
    case "sgd": return (train.momentum ?? 0) > 0 ? ["momentum"] : [];
  }
}

export interface UpdateInputs {
  param: Tensor;
  grad: Tensor;
  /** Current state tensors, in `stateSlots` order. */
  states: Tensor[];
  lr: Tensor;
  /** The 1-based step number as a float scalar (Adam's bias correction). */
  step: Tensor;
}

/**
 * One optimizer step as graph ops, the same update as PyTorch's torch.optim (Adam with bias correction,
 * Adagrad with zero initial accumulator and no decay, SGD with optional momentum and no dampening).
 * Applied to embedding rows it is the "lazy" variant: rows a batch does not touch keep their state.
 */
export function optimizerUpdate(g: Graph, train: TrainSpec, u: UpdateInputs): { param: Tensor; states: Tensor[] } {
  const { param, grad, states, lr, step } = u;
  switch (train.optimizer) {
    case "adam": {
      const b1 = train.beta1!;
      const b2 = train.beta2!;
      const m = g.add(g.mul(states[0], g.scalar(b1)), g.mul(grad, g.scalar(1 - b1)));
      const v = g.add(g.mul(states[1], g.scalar(b2)), g.mul(g.mul(grad, grad), g.scalar(1 - b2)));
      const bc1 = g.sub(g.scalar(1), g.pow(g.scalar(b1), step));
      const bc2 = g.sub(g.scalar(1), g.pow(g.scalar(b2), step));
      // PyTorch's lr/bc1 · m / (√v/√bc2 + ε), rearranged as in Kingma & Ba (§2) so that the bias
      // corrections fall on scalars: (lr·√bc2/bc1) · m / (√v + ε·√bc2). One pass fewer over every parameter.
      const root = g.sqrt(bc2);
      const denom = g.add(g.sqrt(v), g.mul(g.scalar(train.eps!), root));
      const next = g.sub(param, g.mul(g.div(g.mul(lr, root), bc1), g.div(m, denom)));
      return { param: next, states: [m, v] };
    }
    case "adagrad": {
      const sum = g.add(states[0], g.mul(grad, grad));
      const next = g.sub(param, g.mul(lr, g.div(grad, g.add(g.sqrt(sum), g.scalar(train.eps!)))));
      return { param: next, states: [sum] };
    }
    case "sgd": {
      if ((train.momentum ?? 0) > 0) {
        const buf = g.add(g.mul(states[0], g.scalar(train.momentum!)), grad);
        return { param: g.sub(param, g.mul(lr, buf)), states: [buf] };
      }
      return { param: g.sub(param, g.mul(lr, grad)), states: [] };
    }
  }
}
