import { uniform } from "./init.js";
import type { Graph } from "./ops.js";
import type { Tensor } from "./tensor.js";
import { hashBucket, type ModelData } from "../plan/model-data.js";
import { tableSize } from "../plan/resolve.js";
import type { CategoricalFeature, FeatureSpec, MultiCategoricalFeature, NumericFeature, Spec } from "../spec/types.js";
import { DOMAIN_ID_INPUT, EMBEDDING_INIT_BOUND, embeddingTable, indexInput, rowsInput } from "./names.js";

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

  const ownerOf = (f: CategoricalFeature | MultiCategoricalFeature) => (f.table ? byName.get(f.table)! : f) as CategoricalFeature | MultiCategoricalFeature;

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

  function table(owner: CategoricalFeature | MultiCategoricalFeature): Tensor {
    const hit = tables.get(owner.name);
    if (hit) return hit;
    const rows = tableSize(owner, data);
    tableRows[owner.name] = rows;
    if (g.training) {
      // Training sees only the rows this batch touches; the table itself stays on the host.
      const t = g.input(rowsInput(owner.name), "float32", [`U_${owner.name}`, owner.dim], `unique rows of table ${owner.name} this batch touches`);
      tables.set(owner.name, t);
      return t;
    }
    const t = g.atRoot(() => g.scope(`embedding.${owner.name}`, () => {
      const name = g.fresh("table");
      // Checkpoints and the host embedding store find the table by this name and rebuild its initial values.
      if (name !== embeddingTable(owner.name)) throw new Error(`table ${owner.name} was named ${name}`);
      return g.paramNamed(name, uniform(seed, name, [rows, owner.dim], EMBEDDING_INIT_BOUND));
    }));
    tables.set(owner.name, t);
    return t;
  }

  // Consecutive fields of one kind are looked up together: fewer, larger nodes, which is what makes
  // single-row latency low. Field order in x stays the spec's order.
  const parts: Tensor[] = [];
  if (g.training) {
    for (const f of spec.features) parts.push(g.scope(`features.${f.name}`, () => trainingFeature(f)));
  }
  for (const run of g.training ? [] : runsOf(spec.features)) {
    const first = run[0];
    if (run.length > 1 && first.kind === "categorical") {
      parts.push(g.scope(`features.${run.map((f) => f.name).join("+")}`, () => categoricalRun(run as CategoricalFeature[])));
      continue;
    }
    if (run.length > 1 && first.kind === "numeric") {
      parts.push(g.scope(`features.${run.map((f) => f.name).join("+")}`, () => numericRun(g, run as NumericFeature[], data, input)));
      continue;
    }
    const f = first;
    g.scope(`features.${f.name}`, () => {
      if (f.kind === "numeric") {
        parts.push(numeric(g, f, data, input, seed, tables, tableRows));
        return;
      }
      const owner = ownerOf(f);
      const emb = table(owner);
      if (f.kind === "categorical") {
        parts.push(g.gather(emb, localIndex(f)));
        return;
      }
      const [keys, values] = lookupTable(owner, data);
      parts.push(multiValued(g, f, emb, keys, values, input));
    });
  }
  const x = g.scope("features", () => g.concat(parts, 1));

  /** Training inputs: the host has mapped every category to a position among the batch's unique rows. */
  function trainingFeature(f: FeatureSpec): Tensor {
    if (f.kind === "numeric") return numeric(g, f, data, input, seed, tables, tableRows);
    const rows = table(ownerOf(f));
    if (f.kind === "categorical") {
      return g.gather(rows, input({ column: indexInput(f.name), dtype: "int64", shape: ["N"], role: `position of each row's ${f.name} among rows.${ownerOf(f).name}` }));
    }
    const idx = input({ column: indexInput(f.name), dtype: "int64", shape: ["N", "L"], role: `positions of ${f.name}'s values among rows.${ownerOf(f).name}, -1 padded` });
    return pooled(g, f, rows, idx);
  }

  const d = spec.domain;
  const domain = g.training
    ? input({ column: DOMAIN_ID_INPUT, dtype: "int64", shape: ["N"], role: "domain id of each row" })
    : g.scope("domain", () => {
    const raw = input({ column: d.column, dtype: "string", shape: ["N"], role: `domain value (${d.values.join(", ")})` });
    const fallback = d.fallback !== undefined ? d.values.indexOf(d.fallback) : 0;
    return g.labelEncoder(raw, d.values, d.values.map((_, i) => i), fallback);
  });
  return { x, domain, inputs: [...inputs.values()].map((v) => v.info), tableRows };
}

/** Splits fields into runs that can be processed together (same kind, and same width for embeddings). */
function runsOf(features: FeatureSpec[]): FeatureSpec[][] {
  const runs: FeatureSpec[][] = [];
  const key = (f: FeatureSpec) => (f.kind === "categorical" ? `c${f.dim}` : f.kind === "numeric" && f.transform !== "bucketize" ? "n" : undefined);
  for (const f of features) {
    const last = runs[runs.length - 1];
    if (last && key(f) !== undefined && key(f) === key(last[0])) last.push(f);
    else runs.push([f]);
  }
  return runs;
}

/** [N] tensors → [N, R]: one Concat and a transpose instead of R Unsqueezes. */
function stack(g: Graph, xs: Tensor[]): Tensor {
  if (xs.length === 1) return g.unsqueeze(xs[0], [1]);
  return g.transpose(g.reshape(g.concat(xs, 0), [xs.length, -1], "N"), [1, 0]);
}

/** Declared integer ranges: value − min + 1 inside [min, max], else 0 (OOV); works on [N] or [N, R]. */
function rangeIndex(g: Graph, raw: Tensor, mins: number[], sizes: number[]): Tensor {
  const shape = mins.length === 1 && raw.shape.length === 1 ? [] : [mins.length];
  const v = g.sub(raw, g.ints(mins, shape));
  const inside = g.and(g.greaterOrEqual(v, g.ints([0], [])), g.less(v, g.ints(sizes, shape)));
  return g.where(inside, g.add(v, g.ints([1], [])), g.ints([0], []));
}

/** Standard / log1p / none numerics of a run, normalised together: [N, R]. */
function numericRun(g: Graph, run: NumericFeature[], data: ModelData, input: (info: InputColumn) => Tensor): Tensor {
  let v = fillMissing(g, stack(g, run.map((f) => input({ column: f.column, dtype: "float32", shape: ["N"], role: `number ${f.name} (${f.transform})` }))), run, data);
  const logs = run.map((f) => f.transform === "log1p");
  if (logs.some(Boolean)) {
    const logged = g.log(g.add(g.max(v, g.scalar(0)), g.scalar(1)));
    v = logs.every(Boolean) ? logged : g.where(g.constant({ dtype: "bool", shape: [run.length], data: Uint8Array.from(logs.map(Number)) }), logged, v);
  }
  const stats = run.map((f) => (f.transform === "none" ? { mean: 0, std: 1 } : data.numeric[f.name] ?? { mean: 0, std: 1 }));
  v = g.div(g.sub(v, g.floats(stats.map((s) => s.mean))), g.floats(stats.map((s) => (s.std > 0 ? s.std : 1))));
  // Missing values still NaN here (`missing: mean` of standard / log1p) become the training mean: 0 after standardisation.
  return g.where(g.isNaN(v), g.scalar(0), v);
}

/**
 * The value a missing cell (NaN) takes before the transform: the constant of `zero` / `constant`, and for
 * `none` and `bucketize` the raw training mean. Standard and log1p fields with `missing: mean` stay NaN
 * and are filled after normalisation.
 */
function rawFill(f: NumericFeature, data: ModelData): number {
  if (f.missing === "zero") return 0;
  if (f.missing === "constant") return f.fill!;
  if (f.transform === "none" || f.transform === "bucketize") return data.numeric[f.name]?.mean ?? 0;
  return NaN;
}

/** Replaces NaN in [N] or [N, R] raw values with each field's raw fill (NaN where the fill comes later). */
function fillMissing(g: Graph, v: Tensor, run: NumericFeature[], data: ModelData): Tensor {
  const fills = run.map((f) => rawFill(f, data));
  if (fills.every(Number.isNaN)) return v;
  const fill = v.shape.length === 1 ? g.scalar(fills[0]) : g.floats(fills);
  return g.where(g.isNaN(v), fill, v);
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
  return pooled(g, f, emb, g.labelEncoder(cells, ["", ...keys], [-1, ...values], 0));
}

/** Mean or sum of the rows of a multi-valued cell; index −1 is padding. */
function pooled(g: Graph, f: MultiCategoricalFeature, emb: Tensor, idx: Tensor): Tensor {
  const present = g.greaterOrEqual(idx, g.ints([0], []));
  const rows = g.gather(emb, g.max(idx, g.ints([0], [])));
  const mask = g.unsqueeze(g.cast(present, "float32"), [-1]);
  const sum = g.reduceSum(g.mul(rows, mask), [1]);
  if (f.pooling === "sum") return sum;
  const count = g.max(g.reduceSum(mask, [1]), g.scalar(1));
  return g.div(sum, count);
}

/** One numeric field: a bucket embedding, or the same normalisation as a run of numerics. */
function numeric(g: Graph, f: Extract<FeatureSpec, { kind: "numeric" }>, data: ModelData, input: (info: InputColumn) => Tensor,
  seed: number, tables: Map<string, Tensor>, tableRows: Record<string, number>): Tensor {
  if (f.transform !== "bucketize") return numericRun(g, [f], data, input);
  const raw = fillMissing(g, input({ column: f.column, dtype: "float32", shape: ["N"], role: `number ${f.name} (${f.transform})` }), [f], data);
  const b = f.boundaries!;
  // bucket = number of boundaries ≤ x (the fill has replaced NaN).
  const ge = g.cast(g.greaterOrEqual(g.unsqueeze(raw, [-1]), g.floats(b)), "int64");
  const bucket = g.reduceSum(ge, [1]);
  const name = g.fresh("table");
  const t = g.paramNamed(name, uniform(seed, name, [b.length + 1, f.dim!], EMBEDDING_INIT_BOUND));
  tables.set(f.name, t);
  tableRows[f.name] = b.length + 1;
  return g.gather(t, bucket);
}
