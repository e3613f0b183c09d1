import type { Manifest } from "../compiler/inference.js";
import { DataError, type RawRow } from "./cells.js";
import { openRows } from "./readers.js";
import { domainOf } from "./rows.js";

/**
 * Item sampling probabilities for the logQ correction, estimated while streaming: how often each item
 * has been a positive so far, over all positives so far (the current batch included, so no item is ever
 * at zero). In-batch negatives are drawn in proportion to exactly this frequency.
 */
export class ItemFrequencies {
  private readonly counts = new Map<string, number>();
  private total = 0;
  private readonly keys = new Map<string, number>();

  /** An item's key without counting it (for sampled negatives). */
  keyOf(id: string): number {
    let k = this.keys.get(id);
    if (k === undefined) this.keys.set(id, (k = this.keys.size));
    return k;
  }

  /** Counts a batch's items; returns each row's item key (equal ids, equal keys) and log Q. */
  observe(ids: string[]): { keys: BigInt64Array; logQ: Float32Array } {
    for (const id of ids) this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.total += ids.length;
    const keys = new BigInt64Array(ids.length);
    const logQ = new Float32Array(ids.length);
    ids.forEach((id, i) => {
      keys[i] = BigInt(this.keyOf(id));
      logQ[i] = Math.log(this.counts.get(id)! / this.total);
    });
    return { keys, logQ };
  }
}

/** The item key of a row: a non-empty cell of the id column. */
export function itemIdOf(row: RawRow, column: string, file: string): string {
  const v = row.values[column];
  const s = v === undefined || v === null ? "" : String(v);
  if (s === "") throw new DataError(file, row.line, row.columns?.[column], `the item id '${column}' is empty`);
  return s;
}

export function requireColumns(have: string[], need: Map<string, string>, file: string): void {
  const set = new Set(have);
  for (const [col, why] of need) if (!set.has(col)) throw new DataError(file, 1, undefined, `missing column '${col}' (${why})`);
}

/** The columns a tower reads, with why. */
export function towerColumns(m: Manifest, side: string): Map<string, string> {
  return new Map(m.inputs.map((i) => [i.column, `${side} tower input: ${i.meaning}`]));
}

/** The items retrieval ranks: each distinct item once, with the row its item-tower inputs are read from. */
export interface Catalogue {
  ids: string[];
  rows: RawRow[];
  /** For data error positions. */
  file: string;
}

/**
 * Every distinct item of the files (the first row of each id wins), in file order. Each file must have the
 * id column and the item tower's `columns`.
 */
export async function readItemCatalog(files: string | string[], idColumn: string, columns: Map<string, string>): Promise<Catalogue> {
  const list = typeof files === "string" ? [files] : files;
  const seen = new Map<string, RawRow>();
  for (const file of list) {
    const source = openRows(file);
    requireColumns(await source.columns(), new Map([[idColumn, "the item id"], ...columns]), file);
    for await (const row of source.rows()) {
      const id = itemIdOf(row, idColumn, file);
      if (!seen.has(id)) seen.set(id, row);
    }
  }
  if (seen.size === 0) throw new DataError(list[0], 1, undefined, "has no items");
  return { ids: [...seen.keys()], rows: [...seen.values()], file: list[0] };
}

/** Query rows of a file with their domain ids (rows the domain policy skips are counted, not kept). */
export async function readQueryRows(file: string, query: Manifest, need: Map<string, string> = new Map()): Promise<{ rows: RawRow[]; domains: Int32Array; skipped: number }> {
  const source = openRows(file);
  requireColumns(await source.columns(), new Map([...towerColumns(query, "query"), ...need]), file);
  const rows: RawRow[] = [];
  const domains: number[] = [];
  let skipped = 0;
  for await (const row of source.rows()) {
    const d = domainOf(query.domain, row, file);
    if (d === undefined) {
      skipped++;
      continue;
    }
    rows.push(row);
    domains.push(d);
  }
  if (rows.length === 0) throw new DataError(file, 1, undefined, skipped ? `all ${skipped} rows have undeclared domain values (unknown: skip)` : "has no rows");
  return { rows, domains: Int32Array.from(domains), skipped };
}
