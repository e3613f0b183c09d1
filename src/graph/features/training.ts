import type { ModelData } from "../../plan/model-data.js";
import type { FeatureSpec, Spec } from "../../spec/types.js";
import { DOMAIN_ID_INPUT, indexInput, rowsInput } from "../names.js";
import type { Graph } from "../ops.js";
import type { Tensor } from "../tensor.js";
import { numeric, PipelineState, pooled, type FeatureGraph } from "./common.js";
import { tableSize } from "../../plan/resolve.js";

/**
 * The training step's input pipeline: the host has already mapped every category to a position among its
 * table's unique rows in this batch (`index.<field>`), and feeds those rows (`rows.<table>`) and the domain
 * ids; numerics come in raw and are normalised exactly as at serving.
 */
export function buildTrainingFeatures(g: Graph, spec: Spec, data: ModelData, seed: number, withDomain = true): FeatureGraph {
  // Without a domain this is a retrieval item tower, whose batch also holds the extra negatives.
  const s = new PipelineState(g, spec, data, seed, withDomain ? "N" : "M");
  const { input } = s;
  /** The batch rows of a table: the table itself stays on the host. */
  const rows = (owner: ReturnType<PipelineState["ownerOf"]>): Tensor => {
    const hit = s.tables.get(owner.name);
    if (hit) return hit;
    s.tableRows[owner.name] = tableSize(owner, data);
    const t = g.input(rowsInput(owner.name), "float32", [`U_${owner.name}`, owner.dim], `unique rows of table ${owner.name} this batch touches`);
    s.tables.set(owner.name, t);
    return t;
  };
  const feature = (f: FeatureSpec): Tensor => {
    if (f.kind === "numeric") return numeric(g, f, data, input, seed, s.tables, s.tableRows);
    const table = rows(s.ownerOf(f));
    if (f.kind === "categorical") {
      return g.gather(table, input({ column: indexInput(f.name), dtype: "int64", shape: ["N"], role: `position of each row's ${f.name} among rows.${s.ownerOf(f).name}` }));
    }
    const idx = input({ column: indexInput(f.name), dtype: "int64", shape: ["N", `L_${f.name}`], role: `positions of ${f.name}'s values among rows.${s.ownerOf(f).name}, -1 padded` });
    return pooled(g, f, table, idx);
  };
  const parts = spec.features.map((f) => g.scope(`features.${f.name}`, () => feature(f)));
  if (!withDomain) return s.finish(parts, () => g.ints([0]));
  return s.finish(parts, () => input({ column: DOMAIN_ID_INPUT, dtype: "int64", shape: ["N"], role: "domain id of each row" }));
}
