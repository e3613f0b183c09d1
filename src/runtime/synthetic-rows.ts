import { prng } from "../graph/init.js";
import type { ModelData } from "../plan/model-data.js";
import type { Spec } from "../spec/types.js";
import type { LabelledRow } from "./rows.js";

/** Vocabularies of `size` values per learned field and standard statistics: what a trained model would hold. */
export function syntheticModelData(spec: Spec, size = 1000): ModelData {
  const data: ModelData = { vocabularies: {}, numeric: {} };
  for (const f of spec.features) {
    if (f.kind === "numeric") data.numeric[f.name] = { mean: 0, std: 1 };
    else if (!f.range && !f.table && f.hash_buckets === undefined) data.vocabularies[f.name] = Array.from({ length: size }, (_, i) => `v${i}`);
  }
  return data;
}

/**
 * Rows drawn from a spec's fields as raw cells, the way a data file holds them: ids inside declared ranges,
 * categories from the synthetic vocabularies, two values per multi-valued cell, numbers around 0, every
 * domain, labels half positive.
 */
export function syntheticRows(spec: Spec, n: number, seed: number, vocabulary = 1000): LabelledRow[] {
  const rnd = prng(seed, "synthetic-rows");
  const rows: LabelledRow[] = [];
  for (let i = 0; i < n; i++) {
    const values: Record<string, unknown> = {};
    for (const f of spec.features) {
      if (f.kind === "numeric") values[f.column] = String(rnd() * 4 - 2);
      else if (f.range) values[f.column] = String(f.range[0] + Math.floor(rnd() * (f.range[1] - f.range[0] + 1)));
      else if (f.kind === "multi_categorical") values[f.column] = `v${Math.floor(rnd() * vocabulary)}${f.separator}v${Math.floor(rnd() * vocabulary)}`;
      else values[f.column] = `v${Math.floor(rnd() * vocabulary)}`;
    }
    const domain = Math.floor(rnd() * spec.domain.values.length);
    values[spec.domain.column] = spec.domain.values[domain];
    rows.push({ values, line: i + 2, domain, label: rnd() < 0.5 ? 1 : 0 });
  }
  return rows;
}
