import type { EvaluationMetrics } from "../runtime/metrics.js";
import { usageTable, type GateStatistics } from "../runtime/router-stats.js";
import { textTable } from "./table.js";

const f4 = (x: number) => (Number.isNaN(x) ? "  n/a " : x.toFixed(4));

/** The per-domain table printed after training and by `mdr eval`. */
export function metricsTable(m: EvaluationMetrics): string {
  const rows = [
    ...Object.entries(m.domains).map(([d, g]) => [d, String(g.rows), g.positive_rate.toFixed(3), f4(g.auc), f4(g.logloss)]),
    ["overall", String(m.overall.rows), m.overall.positive_rate.toFixed(3), f4(m.overall.auc), f4(m.overall.logloss)],
  ];
  return `${textTable(["domain", "rows", "pos rate", "AUC", "logloss"], rows, 1)}\nmean per-domain AUC: ${f4(m.mean_domain_auc)}`;
}

/** Every gate's expert × domain usage table, or nothing for a model without gates. */
export function routerTables(routers: Record<string, GateStatistics> | undefined, domains: string[]): string {
  if (!routers || Object.keys(routers).length === 0) return "";
  return `\nexpert usage by domain:\n${Object.entries(routers).map(([g, s]) => usageTable(g, s, domains)).join("\n\n")}\n`;
}
