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
export function buildInferenceFeatures(g: Graph, spec: Spec, data: ModelData, seed: number, withDomain = true, tablesFed = false): FeatureGraph {
  const s = new PipelineState(g, spec, data, seed);
  // Consecutive fields of one kind are looked up together: fewer, larger nodes, which is what makes
  // single-row latency low. Field order in x stays the spec's order. Categorical fields share a Gather
  // through their tables' Concat, which ORT folds at load; tables fed at every run keep a Gather each.
  const runs = runsOf(spec.features).flatMap((run) => (tablesFed && run[0].kind === "categorical" ? run.map((f) => [f]) : [run]));
  const parts = runs.map((run) => g.scope(`features.${run.map((f) => f.name).join("+")}`, () => {
    const first = run[0];
    if (run.length > 1 && first.kind === "categorical") return categoricalRun(s, run as CategoricalFeature[]);
    if (run.length > 1 && first.kind === "numeric") return numericRun(g, run as NumericFeature[], data, s.input);
    if (first.kind === "numeric") return numeric(g, first, data, s.input, seed, s.tables, s.tableRows);
    const owner = s.ownerOf(first);
    const emb = table(s, owner);
    if (first.kind === "categorical") return g.gather(emb, localIndex(s, first));
    const [keys, values] = lookupTable(owner, data);
    return multiValued(g, first, emb, keys, values, s.input);
  }));
  const d = spec.domain;
  if (!withDomain) return s.finish(parts, () => g.ints([0]));
  return s.finish(parts, () => g.scope("domain", () => {
    const raw = s.input({ column: d.column, dtype: "string", shape: ["N"], role: `domain value (${d.values.join(", ")})` });
    const fallback = d.fallback !== undefined ? d.values.indexOf(d.fallback) : 0;
    return g.labelEncoder(raw, d.values, d.values.map((_, i) => i), fallback);
  }));
}

/** The raw integer-id input of a `range:` field. */
function rangeInput(s: PipelineState, f: CategoricalFeature): Tensor {
  const [lo, hi] = s.ownerOf(f).range!;
  return s.input({ column: f.column, dtype: "int64", shape: ["N"], role: `integer id of ${f.name} in [${lo}, ${hi}]` });
}

/** Row of each value in its own table [N]: vocabulary/hash lookup or declared range; 0 is OOV. */
function localIndex(s: PipelineState, f: CategoricalFeature): Tensor {
  const g = s.g;
  const owner = s.ownerOf(f);
  if (owner.range) return rangeIndex(g, rangeInput(s, f), [owner.range[0]], [owner.range[1] - owner.range[0] + 1]);
  const [keys, values] = lookupTable(owner, s.data);
  const raw = s.input({ column: f.column, dtype: "string", shape: ["N"], role: `category of ${f.name}` });
  return keys.length ? g.labelEncoder(raw, keys, values, 0) : g.filled(g.shapeOf(raw), 0, "int64", ["N"]);
}

/** A full embedding table, an initializer named as checkpoints and the host embedding store expect. */
function table(s: PipelineState, owner: CategoricalFeature | MultiCategoricalFeature): Tensor {
  const hit = s.tables.get(owner.name);
  if (hit) return hit;
  const g = s.g;
  const rows = tableSize(owner, s.data);
  s.tableRows[owner.name] = rows;
  const t = g.atRoot(() => g.scope(`embedding.${owner.name}`, () => {
    const name = g.fresh("table");
    if (name !== embeddingTable(owner.name)) throw new Error(`table ${owner.name} was named ${name}`);
    const trained = g.trained?.get(name);
    return g.paramNamed(name, trained?.length === rows * owner.dim ? { dtype: "float32", shape: [rows, owner.dim], data: trained } : uniform(s.seed, name, [rows, owner.dim], EMBEDDING_INIT_BOUND));
  }));
  s.tables.set(owner.name, t);
  return t;
}

/**
 * Fields of one width share one Gather: their tables are concatenated (a constant ORT folds at load
 * time) and each field's rows are offset into it.
 */
function categoricalRun(s: PipelineState, run: CategoricalFeature[]): Tensor {
  const g = s.g;
  const owners = [...new Set(run.map(s.ownerOf))];
  const offsets = new Map<string, number>();
  let rows = 0;
  for (const o of owners) {
    offsets.set(o.name, rows);
    rows += tableSize(o, s.data);
  }
  const fused = g.concat(owners.map((o) => table(s, o)), 0);
  const ranges = run.map((f) => s.ownerOf(f).range);
  const local = ranges.every((r) => r)
    ? rangeIndex(g, stack(g, run.map((f) => rangeInput(s, f))), ranges.map((r) => r![0]), ranges.map((r) => r![1] - r![0] + 1))
    : stack(g, run.map((f) => localIndex(s, f)));
  const global = g.add(local, g.ints(run.map((f) => offsets.get(s.ownerOf(f).name)!)));
  return g.reshape(g.gather(fused, global), [-1, run.length * run[0].dim], "N");
}
