/**
 * A plain-text table: first column left-aligned, the others right-aligned, a rule under the header, and
 * a rule before the last `footer` rows (totals).
 */
export function textTable(header: string[], rows: string[][], footer = 0): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const body = rows.slice(0, rows.length - footer).map(line);
  const foot = footer ? [rule, ...rows.slice(rows.length - footer).map(line)] : [];
  return [line(header), rule, ...body, ...foot].join("\n");
}
