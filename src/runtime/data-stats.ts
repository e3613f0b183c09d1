import type { ModelData } from "../graph/model-data.js";
import type { Spec } from "../spec/types.js";
import { numberCell } from "./batch.js";
import { openRows } from "./readers.js";
import { checkColumns, labelRow } from "./rows.js";

export interface DataSummary {
  data: ModelData;
  rows: number;
  skipped: number;
}

/**
 * The first pass over the training data: validates every row (labels, domains, numbers, ragged rows),
 * counts categories for the vocabularies (honouring min_count) and computes numeric statistics. Nothing
 * is written before this pass succeeds, so bad data never leaves a half-made output folder.
 */
export async function summarizeTrainingData(spec: Spec, file: string): Promise<DataSummary> {
  const source = openRows(file);
  checkColumns(spec, await source.columns(), file);
  const owners = new Map<string, string>(); // feature → table owner
  for (const f of spec.features) if (f.kind !== "numeric") owners.set(f.name, f.table ?? f.name);
  const counts = new Map<string, Map<string, number>>();
  const numeric = spec.features.filter((f) => f.kind === "numeric" && f.transform !== "bucketize" && f.transform !== "none");
  const sums = new Map(numeric.map((f) => [f.name, { n: 0, sum: 0, sumSq: 0 }]));
  let rows = 0;
  let skipped = 0;
  for await (const row of source.rows()) {
    if (!labelRow(spec, row, file)) {
      skipped++;
      continue;
    }
    rows++;
    for (const f of spec.features) if (f.kind === "numeric") numberCell(row, f.column, file); // positions bad numbers now
    for (const f of numeric) {
      let v = numberCell(row, f.column, file);
      if (Number.isNaN(v)) continue;
      if (f.kind === "numeric" && f.transform === "log1p") v = Math.log1p(Math.max(v, 0));
      const s = sums.get(f.name)!;
      s.n++;
      s.sum += v;
      s.sumSq += v * v;
    }
    for (const f of spec.features) {
      if (f.kind === "numeric") continue;
      const owner = owners.get(f.name)!;
      const ownerSpec = spec.features.find((x) => x.name === owner)!;
      if (ownerSpec.kind !== "numeric" && ownerSpec.range) continue;
      let m = counts.get(owner);
      if (!m) counts.set(owner, (m = new Map()));
      const raw = row.values[f.column];
      const cell = raw === undefined || raw === null ? "" : String(raw);
      const items = f.kind === "multi_categorical" ? cell.split(f.separator).filter((s) => s !== "") : [cell];
      for (const v of items) m.set(v, (m.get(v) ?? 0) + 1);
    }
  }
  const data: ModelData = { vocabularies: {}, numeric: {} };
  for (const [owner, m] of counts) {
    const f = spec.features.find((x) => x.name === owner)!;
    const minCount = f.kind !== "numeric" ? f.min_count ?? 1 : 1;
    // Most frequent first, ties by value: the same data always gives the same ids.
    data.vocabularies[owner] = [...m.entries()].filter(([, c]) => c >= minCount).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([v]) => v);
  }
  for (const [name, s] of sums) {
    const mean = s.n ? s.sum / s.n : 0;
    const variance = s.n ? Math.max(s.sumSq / s.n - mean * mean, 0) : 1;
    data.numeric[name] = { mean, std: Math.sqrt(variance) || 1 };
  }
  return { data, rows, skipped };
}
