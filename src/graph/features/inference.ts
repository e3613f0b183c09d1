import type { ModelData } from "../../plan/model-data.js";
import { tableSize } from "../../plan/resolve.js";
import type { CategoricalFeature, MultiCategoricalFeature, NumericFeature, Spec } from "../../spec/types.js";
import { uniform } from "../init.js";
import { EMBEDDING_INIT_BOUND, embeddingTable } from "../names.js";
import type { Graph } from "../ops.js";
import type { Tensor } from "../tensor.js";
import { lookupTable, multiValued, numeric, numericRun, PipelineState, rangeIndex, runsOf, stack, type FeatureGraph } from "./common.js";

/**
 * The serving input pipeline inside the graph: raw column values in, so serving needs no preprocessing
 * code. Categories → rows via LabelEncoder (row 0 is out-of-vocabulary), multi-valued cells → masked
 * mean/sum, numerics → normalised (missing values per the field's policy), domain values → ids.
 */
export function buildInferenceFeatures(g: Graph, spec: Spec, data: ModelData, seed: number): FeatureGraph {
  const s = new PipelineState(g, spec, data, seed);
  const { input, ownerOf } = s;

  /** Row of each value in its own table [N]: vocabulary/hash lookup or declared range; 0 is OOV. */
  const localIndex = (f: CategoricalFeature): Tensor => {
    const owner = ownerOf(f);
    if (owner.range) {
      const raw = input({ column: f.column, dtype: "int64", shape: ["N"], role: `integer id of ${f.name} in [${owner.range[0]}, ${owner.range[1]}]` });
      return rangeIndex(g, raw, [owner.range[0]], [owner.range[1] - owner.range[0] + 1]);
    }
    const [keys, values] = lookupTable(owner, data);
    const raw = input({ column: f.column, dtype: "string", shape: ["N"], role: `category of ${f.name}` });
    return keys.length ? g.labelEncoder(raw, keys, values, 0) : g.filled(g.shapeOf(raw), 0, "int64", ["N"]);
  };

  /** A full embedding table, an initializer named as checkpoints and the host embedding store expect. */
  const table = (owner: CategoricalFeature | MultiCategoricalFeature): Tensor => {
    const hit = s.tables.get(owner.name);
    if (hit) return hit;
    const rows = tableSize(owner, data);
    s.tableRows[owner.name] = rows;
    const t = g.atRoot(() => g.scope(`embedding.${owner.name}`, () => {
      const name = g.fresh("table");
      if (name !== embeddingTable(owner.name)) throw new Error(`table ${owner.name} was named ${name}`);
      return g.paramNamed(name, uniform(seed, name, [rows, owner.dim], EMBEDDING_INIT_BOUND));
    }));
    s.tables.set(owner.name, t);
    return t;
  };

  /**
   * Fields of one width share one Gather: their tables are concatenated (a constant ORT folds at load
   * time) and each field's rows are offset into it.
   */
  const categoricalRun = (run: CategoricalFeature[]): Tensor => {
    const owners = [...new Set(run.map(ownerOf))];
    const offsets = new Map<string, number>();
    let rows = 0;
    for (const o of owners) {
      offsets.set(o.name, rows);
      rows += tableSize(o, data);
    }
    const fused = g.concat(owners.map(table), 0);
    const R = run.length;
    let local: Tensor;
    if (run.every((f) => ownerOf(f).range)) {
      const raw = stack(g, run.map((f) => input({ column: f.column, dtype: "int64", shape: ["N"], role: `integer id of ${f.name} in [${ownerOf(f).range![0]}, ${ownerOf(f).range![1]}]` })));
      local = rangeIndex(g, raw, run.map((f) => ownerOf(f).range![0]), run.map((f) => ownerOf(f).range![1] - ownerOf(f).range![0] + 1));
    } else {
      local = stack(g, run.map(localIndex));
    }
    const global = g.add(local, g.ints(run.map((f) => offsets.get(ownerOf(f).name)!)));
    return g.reshape(g.gather(fused, global), [-1, R * run[0].dim], "N");
  };

  // Consecutive fields of one kind are looked up together: fewer, larger nodes, which is what makes
  // single-row latency low. Field order in x stays the spec's order.
  const parts: Tensor[] = [];
  for (const run of runsOf(spec.features)) {
    const first = run[0];
    const scope = `features.${run.map((f) => f.name).join("+")}`;
    if (run.length > 1 && first.kind === "categorical") {
      parts.push(g.scope(scope, () => categoricalRun(run as CategoricalFeature[])));
    } else if (run.length > 1 && first.kind === "numeric") {
      parts.push(g.scope(scope, () => numericRun(g, run as NumericFeature[], data, input)));
    } else {
      parts.push(g.scope(scope, () => {
        if (first.kind === "numeric") return numeric(g, first, data, input, seed, s.tables, s.tableRows);
        const owner = ownerOf(first);
        const emb = table(owner);
        if (first.kind === "categorical") return g.gather(emb, localIndex(first));
        const [keys, values] = lookupTable(owner, data);
        return multiValued(g, first, emb, keys, values, input);
      }));
    }
  }
  const d = spec.domain;
  return s.finish(parts, () => g.scope("domain", () => {
    const raw = input({ column: d.column, dtype: "string", shape: ["N"], role: `domain value (${d.values.join(", ")})` });
    const fallback = d.fallback !== undefined ? d.values.indexOf(d.fallback) : 0;
    return g.labelEncoder(raw, d.values, d.values.map((_, i) => i), fallback);
  }));
}
