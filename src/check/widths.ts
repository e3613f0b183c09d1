import { FEATURES, type FeatureSpec, type Spec } from "../spec/types.js";

/** Width a field contributes to the model input: embedding width, or 1 for a plain numeric. */
export function featureWidth(f: FeatureSpec): number {
  if (f.kind === "numeric") return f.transform === "bucketize" ? (f.dim ?? 8) : 1;
  return f.dim;
}

export function inputWidth(spec: Spec): number {
  return spec.features.reduce((n, f) => n + featureWidth(f), 0);
}

/**
 * Output width of every component by name (`features` included). Assumes an acyclic, resolved spec;
 * a pool used as an input yields the mean of its experts, so its width is its last layer.
 */
export function componentWidths(spec: Spec): Map<string, number> {
  const widths = new Map<string, number>([[FEATURES, inputWidth(spec)]]);
  for (const p of spec.experts) widths.set(p.name, p.layers[p.layers.length - 1]);
  for (const s of spec.stars) widths.set(s.name, s.layers[s.layers.length - 1]);
  for (const g of spec.gates) widths.set(g.name, widths.get(g.pools[0]) ?? 0);
  for (const t of spec.towers) widths.set(t.name, 1);
  return widths;
}
