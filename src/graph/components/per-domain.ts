import type { PerDomainStrategy } from "../../plan/plan.js";
import { dispatch, selectDomain, type ExpertGroup } from "../dispatch.js";
import { stackedMlpForward } from "../layers.js";
import type { Tensor } from "../tensor.js";
import type { BuildContext } from "./context.js";

/**
 * Per-domain copies (towers, STAR layers): each row needs only its own domain's copy. The plan chose
 * between running all D copies and selecting (few nodes, (D − 1)× the copy's work) and dispatching rows.
 */
export function byDomain(ctx: BuildContext, group: ExpertGroup, strategy: PerDomainStrategy): Tensor {
  const { g, D } = ctx;
  if (strategy === "all-rows") {
    const all = stackedMlpForward(g, group.input, group.params, group.shape, D, "rows-first"); // [N, D, out]
    return selectDomain(g, all, ctx.domainOneHot);
  }
  return dispatch(g, [group], g.unsqueeze(ctx.features.domain, [1]), undefined, "sparse");
}
