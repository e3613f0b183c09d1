import { expertSlice, mlpForward, stackedMlpForward, type LayerParams, type MlpShape } from "./layers.js";
import type { Graph } from "./ops.js";
import type { Tensor } from "./tensor.js";

/** Experts that share one architecture, stacked: copy c's parameters are params[·][c]. */
export interface ExpertGroup {
  name: string;
  input: Tensor;
  params: LayerParams[];
  shape: MlpShape;
  copies: number;
  outWidth: number;
}

export type DispatchMode = "sparse" | "dense";

/** Global expert count over groups, in group order. */
export const expertCount = (groups: ExpertGroup[]) => groups.reduce((n, gr) => n + gr.copies, 0);

/**
 * Mixes experts per row: row n gets Σ_j w[n,j] · expert_{idx[n,j]}(x_n) (w omitted: weight 1, one
 * expert per row). Both modes compute the same function:
 * - dense runs every expert on every row and zeroes unselected weights;
 * - sparse gathers each expert's rows (NonZero), runs the expert on those rows only, concatenates the
 *   outputs and gathers each (row, slot) result back by its position — no scatter, so cost follows k.
 */
export function dispatch(g: Graph, groups: ExpertGroup[], idx: Tensor, w: Tensor | undefined, mode: DispatchMode, denseWeights?: Tensor,
  allRows: (group: ExpertGroup) => Tensor = (gr) => runAllRows(g, gr)): Tensor {
  return mode === "dense" ? denseDispatch(g, groups, idx, w, denseWeights, allRows) : sparseDispatch(g, groups, idx, w);
}

/**
 * Every expert of a group on every row: [copies, N, out]. A one-layer expert is one wide MatMul; deeper
 * ones run as one Gemm chain per expert, stacked at the end: a batched MatMul after the wide first layer
 * would need its [N, E, h] activations turned expert-first, a copy larger than the output.
 */
export function runAllRows(g: Graph, group: ExpertGroup): Tensor {
  return g.scope(group.name, () => {
    if (group.shape.layers.length === 1 || group.copies === 1) return stackedMlpForward(g, group.input, group.params, group.shape, group.copies);
    const ys = Array.from({ length: group.copies }, (_, c) => g.scope(`expert${c}`, () => g.unsqueeze(mlpForward(g, group.input, expertSlice(g, group.params, c), group.shape), [0])));
    return g.concat(ys, 0);
  });
}

function selectionCounts(g: Graph, idx: Tensor, experts: number): Tensor {
  // [N, k] → [N, E] with 1 where the row selected the expert (top-k indices are distinct per row).
  return g.reduceSum(g.cast(g.oneHotMask(idx, experts), "int64"), [1]);
}

function sparseDispatch(g: Graph, groups: ExpertGroup[], idx: Tensor, w: Tensor | undefined): Tensor {
  const E = expertCount(groups);
  const out = groups[0].outWidth;
  return g.scope("sparse", () => {
    const M = selectionCounts(g, idx, E);
    const counts = g.reduceSum(M, [0]); // rows per expert [E]
    const ys: Tensor[] = [];
    const run = (group: ExpertGroup, c: number, rows: Tensor) =>
      g.scope(`${group.name}.expert${c}`, () => mlpForward(g, rows, expertSlice(g, group.params, c), group.shape));
    if (groups.every((gr) => gr.input === groups[0].input)) {
      // All (expert, row) pairs in expert order with one NonZero, one Gather and one Split: a fixed
      // handful of nodes plus each expert's own layers, whatever E is.
      const pairs = g.nonZero(g.transpose(M, [1, 0]), "pairs"); // [2, pairs], sorted by expert then row
      const rows = g.gather(pairs, g.ints([1], []), 0);
      const xs = g.gather(groups[0].input, rows);
      const names = Array.from({ length: E }, (_, e) => `n_expert${e}`);
      const parts = E === 1 ? [xs] : g.splitBy(xs, counts, E, names);
      let e = 0;
      for (const group of groups) for (let c = 0; c < group.copies; c++) ys.push(run(group, c, parts[e++]));
    } else {
      let e = 0;
      for (const group of groups) {
        for (let c = 0; c < group.copies; c++, e++) {
          const col = g.gather(M, g.ints([e], []), 1);
          const rows = g.reshape(g.nonZero(col), [-1], `n_${group.name}_${c}`);
          ys.push(run(group, c, g.gather(group.input, rows)));
        }
      }
    }
    const Y = g.concat(ys, 0);
    // Position of (row n, expert e) in Y: rows before n that chose e, plus rows of all earlier experts.
    const rank = g.sub(g.cumSum(M, 0), g.ints([1], []));
    const offsets = g.cumSum(counts, 0, true);
    const pos = g.gatherElements(g.add(rank, offsets), idx, 1);
    if (!w) return g.gather(Y, g.reshape(pos, [-1], idx.shape[0]));
    const picked = g.gather(Y, pos); // [N, k, out]
    return g.reshape(g.matmul(g.unsqueeze(w, [1]), picked), [-1, out], idx.shape[0]);
  });
}

function denseDispatch(g: Graph, groups: ExpertGroup[], idx: Tensor, w: Tensor | undefined, denseWeights: Tensor | undefined,
  allRows: (group: ExpertGroup) => Tensor): Tensor {
  const E = expertCount(groups);
  const out = groups[0].outWidth;
  return g.scope("dense", () => {
    const all = groups.length === 1 ? allRows(groups[0]) : g.concat(groups.map(allRows), 0); // [E, N, out]
    const weights = denseWeights ?? (w
      ? g.reduceSum(g.mul(g.cast(g.oneHotMask(idx, E), "float32"), g.unsqueeze(w, [-1])), [1])
      : g.reduceSum(g.cast(g.oneHotMask(idx, E), "float32"), [1]));
    return g.reshape(g.matmul(g.unsqueeze(weights, [1]), g.transpose(all, [1, 0, 2])), [-1, out], idx.shape[0]);
  });
}

/** t [N, D, ...] → [N, ...]: each row's own domain slice (one-hot multiply; D is small). */
export function selectDomain(g: Graph, t: Tensor, domainOneHot: Tensor): Tensor {
  let mask = domainOneHot; // [N, D] float
  for (let i = 2; i < t.shape.length; i++) mask = g.unsqueeze(mask, [-1]);
  return g.reduceSum(g.mul(t, mask), [1]);
}
