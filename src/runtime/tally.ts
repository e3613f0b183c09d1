import type { CategoricalFeature, MultiCategoricalFeature, NumericFeature, Spec } from "../spec/types.js";
import { categoryCell, integerIdCell, multiValueCell, numericCell, numericPolicies, type RawRow } from "./cells.js";
import { labelRow, type LabelledRow } from "./rows.js";

/** Running sums of one numeric feature's values (after its transform). */
export interface Sums {
  n: number;
  sum: number;
  sumSq: number;
}

/**
 * What a checking pass learns from a stretch of rows: how many it keeps and skips and, when it summarizes,
 * how often each category occurs (per table owner) and each numeric feature's sums. Tallies of a file's
 * parts add up to the file's.
 */
export interface Tally {
  rows: number;
  skipped: number;
  counts: Map<string, Map<string, number>>;
  /**
   * Each numeric feature's sums per part of the file, in file order: added up in that order, they round
   * the same way however the parts were shared out among threads.
   */
  sums: Map<string, Sums>[];
}

/**
 * Checks each row it is given (see rowChecker) and, with `summarizing`, counts categories and sums numbers;
 * `nextPart` starts the sums of the file's next part.
 */
export function tallier(spec: Spec, file: string, summarizing: boolean): { add: (row: RawRow) => void; nextPart: () => void; tally: Tally } {
  const numeric = summarizing ? spec.features.filter((f): f is NumericFeature => f.kind === "numeric") : [];
  const byColumn = new Map<string, { f: NumericFeature; s: Sums }[]>();
  for (const f of numeric) byColumn.set(f.column, [...(byColumn.get(f.column) ?? []), { f, s: { n: 0, sum: 0, sumSq: 0 } }]);
  const byName = new Map(spec.features.map((f) => [f.name, f]));
  // Features whose table learns its vocabulary from the data, with the table's owner.
  const counted: { f: CategoricalFeature | MultiCategoricalFeature; owner: string }[] = [];
  for (const f of summarizing ? spec.features : []) {
    if (f.kind === "numeric") continue;
    const owner = byName.get(f.table ?? f.name) as CategoricalFeature | MultiCategoricalFeature;
    if (!owner.range) counted.push({ f, owner: owner.name });
  }
  const tally: Tally = { rows: 0, skipped: 0, counts: new Map(counted.map(({ owner }) => [owner, new Map()])), sums: [] };
  const nextPart = () => {
    const sums = new Map<string, Sums>();
    for (const entries of byColumn.values()) for (const e of entries) sums.set(e.f.name, (e.s = { n: 0, sum: 0, sumSq: 0 }));
    tally.sums.push(sums);
  };
  nextPart();
  // The checker reads every numeric cell anyway: its values feed the statistics.
  const check = rowChecker(spec, file, summarizing ? (column, x) => {
    if (Number.isNaN(x)) return;
    for (const { f, s } of byColumn.get(column)!) {
      const v = f.transform === "log1p" ? Math.log1p(Math.max(x, 0)) : x;
      s.n++;
      s.sum += v;
      s.sumSq += v * v;
    }
  } : undefined);
  const add = (row: RawRow) => {
    if (!check(row)) {
      tally.skipped++;
      return;
    }
    tally.rows++;
    for (const { f, owner } of counted) {
      const m = tally.counts.get(owner)!;
      const items = f.kind === "multi_categorical" ? multiValueCell(row, f.column, f.separator, file) : [categoryCell(row, f.column, file)];
      for (const v of items) m.set(v, (m.get(v) ?? 0) + 1);
    }
  };
  return { add, nextPart, tally };
}

/** The tally of consecutive runs of parts, given in file order. */
export function mergeTallies(runs: Tally[]): Tally {
  const [out, ...rest] = runs;
  for (const t of rest) {
    out.rows += t.rows;
    out.skipped += t.skipped;
    for (const [owner, m] of t.counts) {
      const into = out.counts.get(owner)!;
      for (const [v, c] of m) into.set(v, (into.get(v) ?? 0) + c);
    }
    out.sums.push(...t.sums);
  }
  return out;
}

/** A numeric feature's sums over the whole file, its parts' added in file order. */
export function totalSums(tally: Tally, name: string): Sums {
  const total = { n: 0, sum: 0, sumSq: 0 };
  for (const part of tally.sums) {
    const s = part.get(name)!;
    total.n += s.n;
    total.sum += s.sum;
    total.sumSq += s.sumSq;
  }
  return total;
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
