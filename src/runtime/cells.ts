import type { Spec } from "../spec/types.js";
import { UserError } from "../diagnostics/errors.js";

/** A data problem at a place in a file: reported as file:line:column, never with a stack. */
export class DataError extends UserError {
  constructor(readonly file: string, readonly line: number, readonly column: number | undefined, readonly reason: string) {
    super(`${file}:${line}${column !== undefined ? `:${column}` : ""}: ${reason}`, 1, "data error");
  }
}

/** One input row as read: raw cell text (CSV) or JSON values, with where it came from. */
export interface RawRow {
  values: Record<string, unknown>;
  line: number;
  /** 1-based column number of each field, for error positions (CSV only). */
  columns?: Record<string, number>;
}

// One reading of every kind of cell, shared by the vocabulary pass, the training step and serving, so a
// value means the same thing wherever it is read.

/** How a numeric column's cells are read: which texts mean missing, and whether missing is an error. */
export interface NumericPolicy {
  markers: Set<string>;
  missingIsError: boolean;
}

const ALWAYS_MISSING = ["", "nan", "na", "null"];
const FLOAT32_MAX = 3.4028234663852886e38;

const policyCache = new WeakMap<Spec, Map<string, NumericPolicy>>();

/**
 * The policy of every numeric column (features reading one column share its markers), worked out once
 * per spec: the training step and serving ask for it on every batch.
 */
export function numericPolicies(spec: Spec): Map<string, NumericPolicy> {
  const hit = policyCache.get(spec);
  if (hit) return hit;
  const out = new Map<string, NumericPolicy>();
  for (const f of spec.features) {
    if (f.kind !== "numeric") continue;
    const p = out.get(f.column) ?? { markers: new Set(ALWAYS_MISSING), missingIsError: false };
    for (const m of f.missing_values ?? []) p.markers.add(m.trim().toLowerCase());
    p.missingIsError ||= f.missing === "error";
    out.set(f.column, p);
  }
  policyCache.set(spec, out);
  return out;
}

/**
 * A numeric cell as float32 input: NaN for missing, else a finite number within float32 range (a value
 * the graph would turn into ±Infinity is an error, never a silent NaN model).
 */
export function numericCell(row: RawRow, column: string, policy: NumericPolicy, file: string): number {
  const v = row.values[column];
  const x = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  // Number("") and Number(" ") are 0: only a 0 needs the blank check.
  if (Number.isFinite(x) && Math.abs(x) <= FLOAT32_MAX && (x !== 0 || typeof v === "number" || (v as string).trim() !== "")) return x;
  const where = row.columns?.[column];
  const missing = v === undefined || v === null || (typeof v === "string" && policy.markers.has(v.trim().toLowerCase()));
  if (missing) {
    if (policy.missingIsError) throw new DataError(file, row.line, where, `'${column}' is missing, and the spec says \`missing: error\``);
    return NaN;
  }
  if (typeof v === "number" || (typeof v === "string" && Number.isFinite(Number(v))) || /^[+-]?(inf|infinity)$/i.test(String(v).trim())) {
    throw new DataError(file, row.line, where, `'${column}' is ${String(v).trim()}, outside the range of a 32-bit float; numbers must be finite and at most ±3.4e38 (use \`transform: log1p\` or clip the data)`);
  }
  const hint = typeof v === "string" ? `; if it means missing, add \`missing_values: [${JSON.stringify(v.trim())}]\` to the feature` : "";
  throw new DataError(file, row.line, where, `'${column}' must be a number, got ${JSON.stringify(v)}${hint}`);
}

/**
 * An integer id of a `range:` field: undefined when missing (→ the out-of-vocabulary row), else a whole
 * number; anything else (3.5, true, "abc") is an error in training and at serving alike.
 */
export function integerIdCell(row: RawRow, column: string, file: string): number | undefined {
  const v = row.values[column];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  if (typeof v === "string") {
    if (plainDigits(v)) return Number(v);
    const t = v.trim();
    if (ALWAYS_MISSING.includes(t.toLowerCase())) return undefined;
    const x = Number(t);
    if (/^[+-]?\d+(\.0*)?$/.test(t) && Number.isSafeInteger(x)) return x;
  }
  throw new DataError(file, row.line, row.columns?.[column], `'${column}' must be a whole number (the feature declares a range), got ${JSON.stringify(v)}`);
}

/** Up to 15 ASCII digits: a safe integer as it is, the common case, checked without the regular expression. */
function plainDigits(v: string): boolean {
  if (v.length === 0 || v.length > 15) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** A categorical cell's text (numbers and booleans as JSON prints them); a list or object is an error. */
export function categoryCell(row: RawRow, column: string, file: string): string {
  const v = row.values[column];
  if (typeof v === "string") return v;
  if (v === undefined || v === null) return "";
  if (typeof v === "object") throw new DataError(file, row.line, row.columns?.[column], `'${column}' must be one value, got ${JSON.stringify(v).slice(0, 60)}`);
  return String(v);
}

function itemText(v: unknown): string {
  return v === undefined || v === null ? "" : typeof v === "string" ? v : String(v);
}

/** The values of a multi-valued cell: a JSON array as it is, text split on the separator; empties dropped. */
export function multiValues(v: unknown, separator: string): string[] {
  if (Array.isArray(v)) return v.map(itemText).filter((s) => s !== "");
  const t = itemText(v);
  return t === "" ? [] : t.split(separator).filter((s) => s !== "");
}

/** Values one multi-valued cell may hold: a batch pads every row to its longest cell, so one huge cell costs N times. */
export const MAX_CELL_VALUES = 1000;

/** `multiValues` of a row's cell, refusing nested objects and a cell with more than MAX_CELL_VALUES values. */
export function multiValueCell(row: RawRow, column: string, separator: string, file: string): string[] {
  const raw = row.values[column];
  if ((Array.isArray(raw) && raw.some((x) => typeof x === "object" && x !== null)) || (!Array.isArray(raw) && typeof raw === "object" && raw !== null)) {
    throw new DataError(file, row.line, row.columns?.[column], `'${column}' must be text or a list of values, got ${JSON.stringify(raw).slice(0, 60)}`);
  }
  const values = multiValues(raw, separator);
  if (values.length > MAX_CELL_VALUES) {
    throw new DataError(file, row.line, row.columns?.[column], `'${column}' holds ${values.length} values; a multi-valued cell holds at most ${MAX_CELL_VALUES}`);
  }
  return values;
}
