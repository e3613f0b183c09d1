import { codeFrameColumns } from "@babel/code-frame";
import pc from "picocolors";
import type { Diagnostic } from "./diagnostic.js";
import { positionAt, type Span } from "./source.js";

export type DiagnosticFormat = "text" | "json" | "github";

export interface Location {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export function locationOf(span: Span): Location {
  const start = positionAt(span.file, span.start);
  const end = positionAt(span.file, span.end);
  return { file: span.file.path, line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
}

/** rustc-style: header, location, code frame with a caret under the span, then the hint. */
export function formatText(d: Diagnostic, color = false): string {
  const c = color ? pc : pc.createColors(false);
  const label = d.severity === "error" ? c.red(c.bold(`error[${d.code}]`)) : c.yellow(c.bold(`warning[${d.code}]`));
  const lines = [`${label}${c.bold(`: ${d.message}`)}`];
  if (d.span) {
    const loc = locationOf(d.span);
    lines.push(`  ${c.cyan("-->")} ${loc.file}:${loc.line}:${loc.column}${d.path ? c.dim(`  (${d.path})`) : ""}`);
    // An empty span still deserves one caret.
    const endColumn = d.span.end > d.span.start ? loc.endColumn : loc.column + 1;
    const endLine = d.span.end > d.span.start ? loc.endLine : loc.line;
    const frame = codeFrameColumns(
      d.span.file.text,
      { start: { line: loc.line, column: loc.column }, end: { line: endLine, column: endColumn } },
      { highlightCode: color, forceColor: color, linesAbove: 1, linesBelow: 1 },
    );
    lines.push(frame);
  } else if (d.path) {
    lines.push(`  ${c.cyan("-->")} ${d.path}`);
  }
  if (d.hint) lines.push(`  ${c.cyan("= help:")} ${d.hint}`);
  return lines.join("\n");
}

export function toJson(d: Diagnostic): Record<string, unknown> {
  return {
    code: d.code,
    name: d.name,
    severity: d.severity,
    message: d.message,
    ...(d.hint ? { hint: d.hint } : {}),
    ...(d.span ? locationOf(d.span) : {}),
    ...(d.path ? { path: d.path } : {}),
  };
}

/** GitHub Actions workflow commands: errors and warnings show inline on the pull request. */
export function formatGithub(d: Diagnostic): string {
  const props: string[] = [];
  if (d.span) {
    const loc = locationOf(d.span);
    props.push(`file=${loc.file}`, `line=${loc.line}`, `col=${loc.column}`, `endLine=${loc.endLine}`, `endColumn=${loc.endColumn}`);
  }
  props.push(`title=${d.code} ${d.name}`);
  const escapeProp = (s: string) => escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
  const message = d.hint ? `${d.message} ${d.hint}` : d.message;
  const kind = d.severity === "error" ? "error" : "warning";
  return `::${kind} ${props.map((p) => {
    const eq = p.indexOf("=");
    return `${p.slice(0, eq)}=${escapeProp(p.slice(eq + 1))}`;
  }).join(",")}::${escapeData(message)}`;
}

function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
