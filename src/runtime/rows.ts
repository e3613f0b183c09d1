import type { Spec } from "../spec/types.js";
import { DataError, type RawRow } from "./cells.js";

/** A training or evaluation row with its label and domain id resolved. */
export interface LabelledRow extends RawRow {
  label: number;
  domain: number;
}

/**
 * Checks a row's label (0/1) and maps its domain value under the spec's policy. Returns undefined for a
 * row the policy skips; throws a positioned DataError otherwise.
 */
export function labelRow(spec: Spec, row: RawRow, file: string): LabelledRow | undefined {
  const domain = domainOf(spec.domain, row, file);
  if (domain === undefined) return undefined;
  if (spec.label === "") return Object.assign(row as LabelledRow, { label: 1, domain }); // retrieval: every row is a positive pair
  const l = row.values[spec.label];
  const label = l === 1 || l === true || l === "1" || l === "1.0" ? 1 : l === 0 || l === false || l === "0" || l === "0.0" ? 0 : NaN;
  if (Number.isNaN(label)) throw new DataError(file, row.line, row.columns?.[spec.label], `label '${spec.label}' must be 0 or 1, got ${JSON.stringify(l ?? "")}`);
  // Rows are ours to annotate: no copy per row on the training hot path.
  const labelled = row as LabelledRow;
  labelled.label = label;
  labelled.domain = domain;
  return labelled;
}

/** The domain policy of a spec (or of a compiled model's manifest). */
export interface DomainPolicy {
  column: string;
  values: string[];
  unknown: string;
  fallback?: string;
}

/** A row's domain id under the policy: undefined when the policy skips the row; a positioned error when it forbids it. */
export function domainOf(d: DomainPolicy, row: RawRow, file: string): number | undefined {
  const raw = row.values[d.column];
  const value = raw === undefined || raw === null ? "" : String(raw);
  const id = d.values.indexOf(value);
  if (id >= 0) return id;
  if (d.unknown === "skip") return undefined;
  if (d.unknown === "fallback") return d.values.indexOf(d.fallback!);
  throw new DataError(file, row.line, row.columns?.[d.column], `domain value '${value}' is not one of ${d.values.join(", ")} (the spec says unknown: error)`);
}

/** Every column the spec reads, with why (for missing-column messages). */
export function specColumns(spec: Spec): Map<string, string> {
  const cols = new Map<string, string>();
  for (const f of spec.features) cols.set(f.column, `feature ${f.name}`);
  cols.set(spec.domain.column, `domain ${spec.domain.name}`);
  if (spec.label !== "") cols.set(spec.label, "the label");
  return cols;
}

export function checkColumns(spec: Spec, columns: string[], file: string): void {
  const have = new Set(columns);
  for (const [col, why] of specColumns(spec)) {
    if (!have.has(col)) throw new DataError(file, 1, undefined, `missing column '${col}' (${why})`);
  }
}
