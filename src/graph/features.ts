import { uniform } from "./init.js";
import type { Graph } from "./ops.js";
import type { Tensor } from "./tensor.js";
import { hashBucket, type ModelData } from "./model-data.js";
import type { CategoricalFeature, FeatureSpec, MultiCategoricalFeature, Spec } from "../spec/types.js";

/** One graph input: a data column as it appears in the data. */
export interface InputColumn {
  column: string;
  dtype: "string" | "float32" | "int64";
  /** [N], or [N, L] for a multi-valued column pre-split by the caller (opset < 20). */
  shape: (number | string)[];
  role: string;
  /** For multi-valued columns the caller splits (opset < 20): the separator to split on. */
  splitBy?: string;
}

export interface FeatureGraph {
  /** The model input x [N, W]: field embeddings and normalised numerics, in spec order. */
  x: Tensor;
  /** Domain id per row [N], int64. */
  domain: Tensor;
  inputs: InputColumn[];
  /** Rows of each embedding table (owner feature → rows), for the manifest and the cost model. */
  tableRows: Record<string, number>;
}

const EMBEDDING_BOUND = 0.05;

/**
 * The input pipeline inside the graph: raw column values in, so serving needs no preprocessing code.
 * Categories → rows via LabelEncoder (row 0 is out-of-vocabulary), multi-valued cells → masked mean/sum,
 * numerics → standardised (NaN → the mean), domain values → ids.
 */
export function buildFeatures(g: Graph, spec: Spec, data: ModelData, seed: number): FeatureGraph {
  const inputs = new Map<string, { tensor: Tensor; info: InputColumn }>();
  const input = (info: InputColumn): Tensor => {
    const hit = inputs.get(info.column);
    if (hit) return hit.tensor;
    const tensor = g.input(info.column, info.dtype, info.shape, info.role);
    inputs.set(info.column, { tensor, info });
    return tensor;
  };
  const tables = new Map<string, Tensor>();
  const tableRows: Record<string, number> = {};
  const byName = new Map(spec.features.map((f) => [f.name, f]));

  const table = (owner: CategoricalFeature | MultiCategoricalFeature): Tensor => {
    const hit = tables.get(owner.name);
    if (hit) return hit;
    const rows = tableSize(owner, data);
    tableRows[owner.name] = rows;
    const t = g.atRoot(() => g.scope(`embedding.${owner.name}`, () => {
      const name = g.fresh("table");
      return g.paramNamed(name, uniform(seed, name, [rows, owner.dim], EMBEDDING_BOUND));
    }));
    tables.set(owner.name, t);
    return t;
  };

  const parts: Tensor[] = [];
  for (const f of spec.features) {
    g.scope(`features.${f.name}`, () => {
      if (f.kind === "numeric") {
        parts.push(numeric(g, f, data, input, seed, tables, tableRows));
        return;
      }
      const owner = (f.table ? byName.get(f.table)! : f) as CategoricalFeature | MultiCategoricalFeature;
      const emb = table(owner);
      if (f.kind === "categorical" && owner.range) {
        const raw = input({ column: f.column, dtype: "int64", shape: ["N"], role: `integer id of ${f.name} in [${owner.range[0]}, ${owner.range[1]}]` });
        const v = g.sub(raw, g.ints([owner.range[0]], []));
        const inside = g.and(g.greaterOrEqual(v, g.ints([0], [])), g.less(v, g.ints([owner.range[1] - owner.range[0] + 1], [])));
        parts.push(g.gather(emb, g.where(inside, g.add(v, g.ints([1], [])), g.ints([0], []))));
        return;
      }
      const [keys, values] = lookupTable(owner, data);
      if (f.kind === "categorical") {
        const raw = input({ column: f.column, dtype: "string", shape: ["N"], role: `category of ${f.name}` });
        const idx = keys.length ? g.labelEncoder(raw, keys, values, 0) : g.filled(g.shapeOf(raw), 0, "int64", ["N"]);
        parts.push(g.gather(emb, idx));
        return;
      }
      parts.push(multiValued(g, f, emb, keys, values, input));
    });
  }
  const x = g.scope("features", () => g.concat(parts, 1));

  const d = spec.domain;
  const domain = g.scope("domain", () => {
    const raw = input({ column: d.column, dtype: "string", shape: ["N"], role: `domain value (${d.values.join(", ")})` });
    const fallback = d.fallback !== undefined ? d.values.indexOf(d.fallback) : 0;
    return g.labelEncoder(raw, d.values, d.values.map((_, i) => i), fallback);
  });
  return { x, domain, inputs: [...inputs.values()].map((v) => v.info), tableRows };
}

export function tableSize(f: CategoricalFeature | MultiCategoricalFeature, data: ModelData): number {
  if (f.range) return f.range[1] - f.range[0] + 2;
  if (f.hash_buckets !== undefined) return f.hash_buckets + 1;
  return (data.vocabularies[f.name]?.length ?? 0) + 1;
}

/** LabelEncoder keys and rows: vocabulary position + 1, or hash bucket + 1; unseen values get row 0. */
function lookupTable(f: CategoricalFeature | MultiCategoricalFeature, data: ModelData): [string[], number[]] {
  const vocab = data.vocabularies[f.name] ?? [];
  if (f.hash_buckets !== undefined) return [vocab, vocab.map((v) => hashBucket(v, f.hash_buckets!) + 1)];
  return [vocab, vocab.map((_, i) => i + 1)];
}

function multiValued(g: Graph, f: MultiCategoricalFeature, emb: Tensor, keys: string[], values: number[],
  input: (info: InputColumn) => Tensor): Tensor {
  let cells: Tensor;
  if (g.opset >= 20) {
    const raw = input({ column: f.column, dtype: "string", shape: ["N"], role: `values of ${f.name} separated by '${f.separator}'` });
    cells = g.stringSplit(raw, f.separator);
  } else {
    // Opset 17 has no string splitting: the caller passes cells split on the separator, padded with "".
    cells = input({ column: f.column, dtype: "string", shape: ["N", "L"], role: `values of ${f.name}, split on '${f.separator}' and padded with ""`, splitBy: f.separator });
  }
  // "" (padding) → -1, unseen → 0 (OOV row), known → its row.
  const idx = g.labelEncoder(cells, ["", ...keys], [-1, ...values], 0);
  const present = g.greaterOrEqual(idx, g.ints([0], []));
  const rows = g.gather(emb, g.max(idx, g.ints([0], [])));
  const mask = g.unsqueeze(g.cast(present, "float32"), [-1]);
  const sum = g.reduceSum(g.mul(rows, mask), [1]);
  if (f.pooling === "sum") return sum;
  const count = g.max(g.reduceSum(mask, [1]), g.scalar(1));
  return g.div(sum, count);
}

function numeric(g: Graph, f: Extract<FeatureSpec, { kind: "numeric" }>, data: ModelData, input: (info: InputColumn) => Tensor,
  seed: number, tables: Map<string, Tensor>, tableRows: Record<string, number>): Tensor {
  const raw = input({ column: f.column, dtype: "float32", shape: ["N"], role: `number ${f.name} (${f.transform})` });
  const x = g.unsqueeze(raw, [-1]);
  if (f.transform === "bucketize") {
    const b = f.boundaries!;
    // bucket = number of boundaries ≤ x; NaN compares false everywhere and lands in bucket 0.
    const ge = g.cast(g.greaterOrEqual(x, g.floats(b)), "int64");
    const bucket = g.reduceSum(ge, [1]);
    const name = g.fresh("table");
    const t = g.paramNamed(name, uniform(seed, name, [b.length + 1, f.dim!], EMBEDDING_BOUND));
    tables.set(f.name, t);
    tableRows[f.name] = b.length + 1;
    return g.gather(t, bucket);
  }
  const stats = data.numeric[f.name] ?? { mean: 0, std: 1 };
  let v = x;
  if (f.transform === "log1p") v = g.log(g.add(g.max(v, g.scalar(0)), g.scalar(1)));
  if (f.transform !== "none") v = g.div(g.sub(v, g.scalar(stats.mean)), g.scalar(stats.std > 0 ? stats.std : 1));
  // Missing values (NaN) become the training mean: 0 after standardisation.
  return g.where(g.isNaN(v), g.scalar(0), v);
}
