import type { RetrievalSpec, Side, Spec } from "./types.js";

/**
 * One tower of a retrieval model seen as a ranking-shaped spec: its own features and components, the
 * model's domain and training settings. The checker, the plan and the graph builder work on it unchanged;
 * the tower's last layer then projects to the embedding width instead of one logit. Router losses belong
 * to the query side (the item side has no domain).
 */
export function sideSpec(r: RetrievalSpec, side: Side): Spec {
  const s = r[side];
  const query = side === "query";
  return {
    version: 1,
    model: `${r.model}.${side}`,
    label: "",
    domain: r.domain,
    features: s.features,
    experts: s.experts,
    gates: s.gates,
    stars: s.stars,
    towers: s.towers,
    loss: {
      bce: 0,
      mutual_information: query ? r.loss.mutual_information : 0,
      load_balance: query ? r.loss.load_balance : 0,
      l2_embedding: r.loss.l2_embedding,
      ...(query && r.loss.router !== undefined ? { router: r.loss.router } : {}),
    },
    train: r.train,
  };
}

/**
 * Both towers' fields as one spec without components: what the host needs to learn vocabularies, check
 * rows, keep embedding tables and encode batches. Its label is empty: every row is a positive pair.
 */
export function fieldsSpec(r: RetrievalSpec): Spec {
  return { ...sideSpec(r, "query"), model: r.model, features: [...r.query.features, ...r.item.features], experts: [], gates: [], stars: [], towers: [] };
}

export function isRetrieval(spec: unknown): spec is RetrievalSpec {
  return typeof spec === "object" && spec !== null && (spec as { task?: unknown }).task === "retrieval";
}
