import type { Graph } from "../ops.js";
import type { Tensor } from "../tensor.js";
import { uniform } from "../init.js";
import { EMBEDDING_INIT_BOUND } from "../names.js";
import { hashBucket, type ModelData } from "../../plan/model-data.js";
import type { CategoricalFeature, FeatureSpec, MultiCategoricalFeature, NumericFeature, Spec } from "../../spec/types.js";

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

/** What both input pipelines share: graph inputs made once per column, embedding tables once per owner. */
export class PipelineState {
  readonly inputs = new Map<string, { tensor: Tensor; info: InputColumn }>();
  readonly tables = new Map<string, Tensor>();
  readonly tableRows: Record<string, number> = {};
  private readonly byName: Map<string, FeatureSpec>;

  /** `batchDim` names the row dimension of this pipeline's inputs (a retrieval step's item tower runs on more rows than its query tower). */
  constructor(readonly g: Graph, readonly spec: Spec, readonly data: ModelData, readonly seed: number, readonly batchDim = "N") {
    this.byName = new Map(spec.features.map((f) => [f.name, f]));
  }

  input = (info: InputColumn): Tensor => {
    const hit = this.inputs.get(info.column);
    if (hit) return hit.tensor;
    if (this.batchDim !== "N") info = { ...info, shape: info.shape.map((d) => (d === "N" ? this.batchDim : d)) };
    const tensor = this.g.input(info.column, info.dtype, info.shape, info.role);
    this.inputs.set(info.column, { tensor, info });
    return tensor;
  };

  ownerOf = (f: CategoricalFeature | MultiCategoricalFeature): CategoricalFeature | MultiCategoricalFeature =>
    (f.table ? this.byName.get(f.table)! : f) as CategoricalFeature | MultiCategoricalFeature;

  /** The model input x and the domain ids, once every field has its part. */
  finish(parts: Tensor[], domain: () => Tensor): FeatureGraph {
    const x = this.g.scope("features", () => this.g.concat(parts, 1));
    return { x, domain: domain(), inputs: [...this.inputs.values()].map((v) => v.info), tableRows: this.tableRows };
  }
}

/** Splits fields into runs that can be processed together (same kind, and same width for embeddings). */
export function runsOf(features: FeatureSpec[]): FeatureSpec[][] {
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
export function stack(g: Graph, xs: Tensor[]): Tensor {
  if (xs.length === 1) return g.unsqueeze(xs[0], [1]);
  return g.transpose(g.reshape(g.concat(xs, 0), [xs.length, -1], "N"), [1, 0]);
}

/** Declared integer ranges: value − min + 1 inside [min, max], else 0 (OOV); works on [N] or [N, R]. */
export function rangeIndex(g: Graph, raw: Tensor, mins: number[], sizes: number[]): Tensor {
  const shape = mins.length === 1 && raw.shape.length === 1 ? [] : [mins.length];
  const v = g.sub(raw, g.ints(mins, shape));
  const inside = g.and(g.greaterOrEqual(v, g.ints([0], [])), g.less(v, g.ints(sizes, shape)));
  return g.where(inside, g.add(v, g.ints([1], [])), g.ints([0], []));
}

/** Standard / log1p / none numerics of a run, normalised together: [N, R]. */
export function numericRun(g: Graph, run: NumericFeature[], data: ModelData, input: (info: InputColumn) => Tensor): Tensor {
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
export function lookupTable(f: CategoricalFeature | MultiCategoricalFeature, data: ModelData): [string[], number[]] {
  const vocab = data.vocabularies[f.name] ?? [];
  if (f.hash_buckets !== undefined) return [vocab, vocab.map((v) => hashBucket(v, f.hash_buckets!) + 1)];
  return [vocab, vocab.map((_, i) => i + 1)];
}

export function multiValued(g: Graph, f: MultiCategoricalFeature, emb: Tensor, keys: string[], values: number[],
  input: (info: InputColumn) => Tensor): Tensor {
  let cells: Tensor;
  if (g.opset >= 20) {
    const raw = input({ column: f.column, dtype: "string", shape: ["N"], role: `values of ${f.name} separated by '${f.separator}'` });
    cells = g.stringSplit(raw, f.separator);
  } else {
    // Opset 17 has no string splitting: the caller passes cells split on the separator, padded with "".
    cells = input({ column: f.column, dtype: "string", shape: ["N", `L_${f.name}`], role: `values of ${f.name}, split on '${f.separator}' and padded with ""`, splitBy: f.separator });
  }
  // "" (padding) → -1, unseen → 0 (OOV row), known → its row.
  return pooled(g, f, emb, g.labelEncoder(cells, ["", ...keys], [-1, ...values], 0));
}

/** Mean or sum of the rows of a multi-valued cell; index −1 is padding. */
export function pooled(g: Graph, f: MultiCategoricalFeature, emb: Tensor, idx: Tensor): Tensor {
  const present = g.greaterOrEqual(idx, g.ints([0], []));
  const rows = g.gather(emb, g.max(idx, g.ints([0], [])));
  const mask = g.unsqueeze(g.cast(present, "float32"), [-1]);
  const sum = g.reduceSum(g.mul(rows, mask), [1]);
  if (f.pooling === "sum") return sum;
  const count = g.max(g.reduceSum(mask, [1]), g.scalar(1));
  return g.div(sum, count);
}

/** One numeric field: a bucket embedding, or the same normalisation as a run of numerics. */
export function numeric(g: Graph, f: Extract<FeatureSpec, { kind: "numeric" }>, data: ModelData, input: (info: InputColumn) => Tensor,
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
