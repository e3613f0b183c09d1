import { uniform } from "../graph/init.js";
import { hashBucket, type ModelData } from "../plan/model-data.js";
import { tableSize } from "../plan/resolve.js";
import type { TrainStepSignature } from "../compiler/train-step.js";
import type { CategoricalFeature, MultiCategoricalFeature, Spec } from "../spec/types.js";
import { EMBEDDING_INIT_BOUND, embeddingTable } from "../graph/names.js";

/** One embedding table on the host, with its optimizer state rows. */
export interface HostTable {
  name: string;
  rows: number;
  dim: number;
  values: Float32Array;
  /** Optimizer state, one array per slot, same layout as `values`. */
  slots: Float32Array[];
}

/**
 * The embedding tables of a model, kept on the host: a training step reads the rows its batch touches
 * (fed whole without a copy, gathered in the graph) and returns only those rows updated, so step cost
 * follows the batch, not the table sizes.
 */
export class EmbeddingStore {
  readonly tables = new Map<string, HostTable>();
  /** The row of a raw value in a table (0 = out of vocabulary), as the inference graph maps it. */
  readonly rowOf: (table: string, value: string) => number;

  constructor(spec: Spec, data: ModelData, signature: TrainStepSignature) {
    const features = new Map(spec.features.map((f) => [f.name, f]));
    for (const t of signature.tables) {
      const owner = features.get(t.name) as CategoricalFeature | MultiCategoricalFeature;
      const rows = tableSize(owner, data);
      const name = embeddingTable(t.name);
      // The same initial values as the inference graph's initializer of this table.
      const init = uniform(spec.train.seed, name, [rows, t.dim], EMBEDDING_INIT_BOUND).data as Float32Array;
      this.tables.set(t.name, { name: t.name, rows, dim: t.dim, values: init, slots: signature.slots.map(() => new Float32Array(rows * t.dim)) });
    }
    this.rowOf = rowLookups(spec, data, signature);
  }
}

/** Each table's value-to-row mapping, without the tables (what the batch worker needs). */
export function rowLookups(spec: Spec, data: ModelData, signature: TrainStepSignature): (table: string, value: string) => number {
  const features = new Map(spec.features.map((f) => [f.name, f]));
  const lookup = new Map(signature.tables.map((t) => [t.name, rowLookup(features.get(t.name) as CategoricalFeature | MultiCategoricalFeature, data)]));
  return (table, value) => lookup.get(table)!(value);
}

export function rowLookup(owner: CategoricalFeature | MultiCategoricalFeature, data: ModelData): (value: string) => number {
  if (owner.range) {
    const [lo, hi] = owner.range;
    return (v) => {
      const n = Number(v);
      return Number.isInteger(n) && n >= lo && n <= hi ? n - lo + 1 : 0;
    };
  }
  const vocab = new Map((data.vocabularies[owner.name] ?? []).map((v, i) => [v, i]));
  if (owner.hash_buckets !== undefined) {
    const buckets = owner.hash_buckets;
    return (v) => (vocab.has(v) ? hashBucket(v, buckets) + 1 : 0);
  }
  return (v) => {
    const i = vocab.get(v);
    return i === undefined ? 0 : i + 1;
  };
}
