import type { PlannedPool } from "../../plan/plan.js";
import { selectDomain } from "../dispatch.js";
import type { Tensor } from "../tensor.js";
import type { BuildContext } from "./context.js";

/** A pool read directly as an input: the mean of its experts (the row's own copies for per_domain). */
export function poolOutput(ctx: BuildContext, p: PlannedPool): Tensor {
  const { g, D } = ctx;
  const group = ctx.group(p);
  const all = ctx.allRows(group); // [C, N, out]
  if (p.spec.scope !== "per_domain") return g.reduceMean(all, [0]);
  const perDomain = g.reduceMean(g.reshape(all, [D, p.spec.count, -1, group.outWidth], "N"), [1]); // [D, N, out]
  return selectDomain(g, g.transpose(perDomain, [1, 0, 2]), ctx.domainOneHot);
}
