import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { mdrcVersion } from "../compiler/version.js";
import { PAGE_SCRIPT } from "./page-script.js";
import type { RunReport } from "./run-data.js";

const require = createRequire(import.meta.url);

/** The chart library and its heatmap plugin, inlined: the page needs no network. */
function chartLibraries(): string {
  const chart = join(dirname(require.resolve("chart.js")), "chart.umd.min.js");
  const matrix = join(dirname(require.resolve("chartjs-chart-matrix")), "chartjs-chart-matrix.min.js");
  return [readFileSync(chart, "utf8"), readFileSync(matrix, "utf8")].map((js) => `<script>${js.replace(/<\/script/gi, "<\\/script")}</script>`).join("\n");
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/**
 * A self-contained HTML page for one or more training runs: learning curves, validation metrics and
 * per-domain AUC over time, expert × domain usage heatmaps and mutual information per gate, the final
 * per-domain table, the spec and its cost; several runs are overlaid and compared in one table.
 */
export function reportHtml(runs: RunReport[]): string {
  const title = runs.length === 1 ? `mdrc report: ${runs[0].name}` : `mdrc report: ${runs.map((r) => r.name).join(" vs ")}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2433; background: #f6f7f9; }
  header { background: #1d2433; color: #fff; padding: 16px 28px; }
  header h1 { margin: 0; font-size: 20px; font-weight: 600; }
  header p { margin: 4px 0 0; color: #b9c0cf; font-size: 13px; }
  main { padding: 8px 28px 40px; max-width: 1400px; }
  section { background: #fff; border: 1px solid #e2e5ea; border-radius: 8px; padding: 14px 18px; margin: 16px 0; }
  h2 { font-size: 16px; margin: 0 0 10px; }
  h3 { font-size: 14px; margin: 14px 0 6px; color: #3a4357; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 16px; }
  .chart { position: relative; height: 280px; }
  .chart.heatmap { height: 320px; }
  table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { padding: 3px 10px; text-align: right; border-bottom: 1px solid #eceef2; }
  th:first-child, td:first-child { text-align: left; }
  th { color: #59627a; font-weight: 600; }
  pre { background: #f3f4f7; padding: 10px; overflow: auto; max-height: 420px; font-size: 12px; }
  .note { color: #59627a; font-size: 13px; }
</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><p>${runs.map((r) => escapeHtml(r.folder)).join(" · ")} — mdrc ${escapeHtml(mdrcVersion)}</p></header>
<main id="report"></main>
<script type="application/json" id="runs">${scriptJson(runs)}</script>
${chartLibraries()}
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
