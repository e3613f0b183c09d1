import type { EvaluationMetrics } from "../runtime/metrics.js";

const f4 = (x: number) => (Number.isNaN(x) ? "  n/a " : x.toFixed(4));

/** The per-domain table printed after training and by `mdr eval`. */
export function metricsTable(m: EvaluationMetrics): string {
  const rows = [
    ...Object.entries(m.domains).map(([d, g]) => [d, String(g.rows), g.positive_rate.toFixed(3), f4(g.auc), f4(g.logloss)]),
    ["overall", String(m.overall.rows), m.overall.positive_rate.toFixed(3), f4(m.overall.auc), f4(m.overall.logloss)],
  ];
  const header = ["domain", "rows", "pos rate", "AUC", "logloss"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(0, -1).map(line), widths.map((w) => "-".repeat(w)).join("  "), line(rows[rows.length - 1]),
    `mean per-domain AUC: ${f4(m.mean_domain_auc)}`].join("\n");
}
