import type { ModelData } from "../../plan/model-data.js";
import type { FeatureSpec, Spec } from "../../spec/types.js";
import { DOMAIN_ID_INPUT, embeddingTable, indexInput, rowsInput, touchedInput } from "../names.js";
import type { Graph } from "../ops.js";
import type { Tensor } from "../tensor.js";
import { numeric, PipelineState, pooled, type FeatureGraph } from "./common.js";
import { tableSize } from "../../plan/resolve.js";

/**
 * The training step's input pipeline: the host has already mapped every category to a position among its
 * table's unique rows in this batch (`index.<field>`) and lists those rows (`touched.<table>`); it feeds
 * each table whole, without a copy, and the graph gathers the batch rows (`rows.<table>`), which is where
 * gradients stop and the optimizer updates. Numerics come in raw and are normalised exactly as at serving.
 */
export function buildTrainingFeatures(g: Graph, spec: Spec, data: ModelData, seed: number, withDomain = true): FeatureGraph {
  // Without a domain this is a retrieval item tower, whose batch also holds the extra negatives.
  const s = new PipelineState(g, spec, data, seed, withDomain ? "N" : "M");
  const { input } = s;
  /** The batch rows of a table, gathered in the graph (ONNX Runtime's Gather is several times faster than the same copy in JS). */
  const rows = (owner: ReturnType<PipelineState["ownerOf"]>): Tensor => {
    const hit = s.tables.get(owner.name);
    if (hit) return hit;
    const size = (s.tableRows[owner.name] = tableSize(owner, data));
    const table = g.input(embeddingTable(owner.name), "float32", [size, owner.dim], `embedding table ${owner.name}, held and updated by the host`);
    const touched = g.input(touchedInput(owner.name), "int32", [`U_${owner.name}`], `rows of table ${owner.name} this batch touches, ascending`);
    const t = g.gather(table, touched, 0, rowsInput(owner.name));
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

/** The batch rows `rows.<table>` of a training graph's host-held tables, in the order the tables were made. */
export function batchRows(g: Graph, tableRows: Record<string, number>): Tensor[] {
  return Object.keys(tableRows).flatMap((name) => g.values.get(rowsInput(name)) ?? []);
}
