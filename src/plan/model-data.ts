/**
 * What training data teaches the input pipeline: vocabularies (by the feature that owns the table) and
 * numeric statistics. Before training it is empty: every category maps to the out-of-vocabulary row and
 * numerics pass through as (x − 0) / 1.
 */
export interface ModelData {
  vocabularies: Record<string, string[]>;
  numeric: Record<string, { mean: number; std: number }>;
}

export const emptyModelData = (): ModelData => ({ vocabularies: {}, numeric: {} });

/** FNV-1a over UTF-16 code units: a stable 32-bit hash (of hashed categories, and of parameter names for their initial values). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The bucket of a hashed category (row = bucket + 1; row 0 is OOV). */
export function hashBucket(value: string, buckets: number): number {
  return fnv1a(value) % buckets;
}
