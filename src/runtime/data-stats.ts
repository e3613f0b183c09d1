import { totalmem } from "node:os";
import { resolve } from "../plan/resolve.js";
import { fitsInMemory, fmt, gib, MAX_TENSOR_VALUES, modelSize } from "../plan/size.js";
import type { ModelData } from "../plan/model-data.js";
import type { ModelPlan } from "../plan/plan.js";
import type { CategoricalFeature, MultiCategoricalFeature, NumericFeature, Spec } from "../spec/types.js";
import { categoryCell, DataError, integerIdCell, multiValueCell, numericCell, numericPolicies, type RawRow } from "./cells.js";
import { openRows, type OpenOptions } from "./readers.js";
import { checkColumns, labelRow, type LabelledRow } from "./rows.js";

export interface DataSummary {
  data: ModelData;
  rows: number;
  skipped: number;
}

/** The plans of what will be trained, once vocabularies are known (a ranking model; a retrieval model's two towers). */
export type PlansOf = (data: ModelData) => ModelPlan[];

/**
 * The first pass over the training data: validates every row (labels, domains, numbers, ragged rows),
 * counts categories for the vocabularies (honouring min_count) and computes numeric statistics. Nothing
 * is written before this pass succeeds, so bad data never leaves a half-made output folder.
 */
export async function summarizeTrainingData(spec: Spec, file: string, plans: PlansOf = (data) => [resolve(spec, { data })]): Promise<DataSummary> {
  return fastThenExact(file, (read) => summarize(spec, file, read, plans));
}

/** Checks every row of a file training evaluates on (the validation file), before anything is written. */
export async function checkEvaluationFile(spec: Spec, file: string): Promise<void> {
  await fastThenExact(file, async (read) => {
    const source = openRows(file, read);
    checkColumns(spec, await source.columns(), file);
    const check = rowChecker(spec, file);
    let rows = 0;
    for await (const row of source.rows()) if (check(row)) rows++;
    if (rows === 0) throw new DataError(file, 1, undefined, "has no rows to evaluate on");
  });
}

/**
 * A checking pass over a file. A CSV is first read fast (parsed in a worker, no per-field positions); only
 * when that finds a problem is it read again with positions, so the error names line and column exactly.
 */
async function fastThenExact<T>(file: string, pass: (read: OpenOptions) => Promise<T>): Promise<T> {
  if (!/\.csv$/i.test(file)) return pass({});
  try {
    return await pass({ positions: false, worker: true });
  } catch (e) {
    if (e instanceof DataError) return pass({});
    throw e;
  }
}

async function summarize(spec: Spec, file: string, read: OpenOptions, plans: PlansOf): Promise<DataSummary> {
  const source = openRows(file, read);
  checkColumns(spec, await source.columns(), file);
  const numeric = spec.features.filter((f): f is NumericFeature => f.kind === "numeric");
  const sums = new Map(numeric.map((f) => [f.name, { n: 0, sum: 0, sumSq: 0 }]));
  const byColumn = new Map<string, { f: NumericFeature; s: { n: number; sum: number; sumSq: number } }[]>();
  for (const f of numeric) byColumn.set(f.column, [...(byColumn.get(f.column) ?? []), { f, s: sums.get(f.name)! }]);
  // The checker reads every numeric cell anyway: its values feed the statistics.
  const check = rowChecker(spec, file, (column, x) => {
    if (Number.isNaN(x)) return;
    for (const { f, s } of byColumn.get(column)!) {
      const v = f.transform === "log1p" ? Math.log1p(Math.max(x, 0)) : x;
      s.n++;
      s.sum += v;
      s.sumSq += v * v;
    }
  });
  const owners = new Map<string, CategoricalFeature | MultiCategoricalFeature>(); // feature → table owner
  const byName = new Map(spec.features.map((f) => [f.name, f]));
  for (const f of spec.features) if (f.kind !== "numeric") owners.set(f.name, byName.get(f.table ?? f.name) as CategoricalFeature | MultiCategoricalFeature);
  const counts = new Map<string, Map<string, number>>();
  let rows = 0;
  let skipped = 0;
  for await (const row of source.rows()) {
    if (!check(row)) {
      skipped++;
      continue;
    }
    rows++;
    for (const f of spec.features) {
      if (f.kind === "numeric") continue;
      const owner = owners.get(f.name)!;
      if (owner.range) continue;
      let m = counts.get(owner.name);
      if (!m) counts.set(owner.name, (m = new Map()));
      const items = f.kind === "multi_categorical" ? multiValueCell(row, f.column, f.separator, file) : [categoryCell(row, f.column, file)];
      for (const v of items) m.set(v, (m.get(v) ?? 0) + 1);
    }
  }
  if (rows === 0) throw new DataError(file, 1, undefined, skipped ? `all ${skipped} rows have undeclared domain values (the spec says unknown: skip); nothing to train on` : "the file has a header but no rows; nothing to train on");
  const data: ModelData = { vocabularies: {}, numeric: {} };
  for (const [owner, m] of counts) {
    const f = byName.get(owner)!;
    const minCount = f.kind !== "numeric" ? f.min_count ?? 1 : 1;
    // Most frequent first, ties by value: the same data always gives the same ids.
    data.vocabularies[owner] = [...m.entries()].filter(([, c]) => c >= minCount).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([v]) => v);
  }
  checkLearnedTables(spec, data, file, plans);
  for (const [name, s] of sums) {
    const mean = s.n ? s.sum / s.n : 0;
    const variance = s.n ? Math.max(s.sumSq / s.n - mean * mean, 0) : 1;
    const std = Math.sqrt(variance) || 1;
    // Values are within float32 range, so these are finite; a NaN here would poison every prediction.
    if (!Number.isFinite(mean) || !Number.isFinite(std)) throw new DataError(file, 1, undefined, `the statistics of numeric feature '${name}' are not finite (mean ${mean}, std ${std}); use \`transform: log1p\` or clip the data`);
    data.numeric[name] = { mean, std };
  }
  return { data, rows, skipped };
}

/**
 * Validates one row completely — label, domain, every numeric and integer-id cell, categorical cells —
 * as training, evaluation and serving will read it. Returns the labelled row, or undefined for a row the
 * domain policy skips. `onNumber` sees each numeric column's value (NaN when missing) of a row it keeps.
 */
export function rowChecker(spec: Spec, file: string, onNumber?: (column: string, value: number) => void): (row: RawRow) => LabelledRow | undefined {
  const policies = numericPolicies(spec);
  const byName = new Map(spec.features.map((f) => [f.name, f]));
  const ranged = spec.features.filter((f) => f.kind !== "numeric" && (byName.get(f.table ?? f.name) as CategoricalFeature).range);
  const categorical = spec.features.filter((f) => f.kind === "categorical" && !ranged.includes(f));
  const multi = spec.features.filter((f) => f.kind === "multi_categorical");
  return (row) => {
    const labelled = labelRow(spec, row, file);
    if (!labelled) return undefined;
    for (const [column, policy] of policies) {
      const x = numericCell(row, column, policy, file);
      onNumber?.(column, x);
    }
    for (const f of ranged) if (f.kind === "categorical") integerIdCell(row, f.column, file);
    for (const f of categorical) categoryCell(row, f.column, file);
    for (const f of multi) if (f.kind === "multi_categorical") multiValueCell(row, f.column, f.separator, file);
    return labelled;
  };
}

/** Tables sized by the data are checked like declared ones, before anything allocates them. */
function checkLearnedTables(spec: Spec, data: ModelData, file: string, plans: PlansOf): void {
  for (const [owner, vocab] of Object.entries(data.vocabularies)) {
    const f = spec.features.find((x) => x.name === owner) as CategoricalFeature;
    const n = (vocab.length + 1) * f.dim;
    if (n > MAX_TENSOR_VALUES) {
      throw new DataError(file, 1, undefined, `feature '${owner}' has ${fmt(vocab.length)} distinct values, a table of ${fmt(n)} values (the limit is ${fmt(MAX_TENSOR_VALUES)}); raise min_count or use hash_buckets`);
    }
  }
  // The plans' tables now have their learned rows.
  const trainingBytes = plans(data).reduce((n, plan) => n + modelSize(plan).trainingBytes, 0);
  if (!fitsInMemory({ trainingBytes })) {
    throw new DataError(file, 1, undefined, `training this model on this data needs ${gib(trainingBytes)} for weights and optimizer state; this machine has ${gib(totalmem())}; raise min_count or use hash_buckets for the largest vocabularies`);
  }
}
