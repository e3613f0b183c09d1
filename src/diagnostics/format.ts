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
    lines.push(codeFrame(d.span.file.text, d.span.file.lineStarts, loc.line, loc.column, endLine, endColumn, color));
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

const FRAME_WIDTH = 160;

/**
 * A code frame of the lines around a span. Only those lines are handed to the frame printer, and long
 * lines are cut to a window around the span's start, so a huge or one-line file still prints a short frame.
 */
function codeFrame(text: string, lineStarts: readonly number[], line: number, column: number, endLine: number, endColumn: number, color: boolean): string {
  const first = Math.max(1, line - 1);
  const last = Math.min(lineStarts.length, Math.min(endLine, line + 8) + 1);
  const from = Math.max(0, column - 1 - FRAME_WIDTH / 2);
  const clip = (s: string) => (s.length <= FRAME_WIDTH && from === 0 ? s : `${from > 0 ? "…" : ""}${s.slice(from, from + FRAME_WIDTH)}${s.length > from + FRAME_WIDTH ? "…" : ""}`);
  const shift = from > 0 ? from - 1 : 0; // the leading "…" takes one column
  const window: string[] = [];
  for (let l = first; l <= last; l++) {
    const end = l < lineStarts.length ? lineStarts[l] - 1 : text.length;
    window.push(clip(text.slice(lineStarts[l - 1], Math.max(lineStarts[l - 1], end)).replace(/\r$/, "")));
  }
  const stop = endLine > line + 8 ? { line: line + 8, column: 1 } : { line: endLine, column: Math.max(1, Math.min(endColumn - shift, FRAME_WIDTH + 2)) };
  return codeFrameColumns(
    window.join("\n"),
    // Positions keep the file's line numbers; `startLine` tells the printer where the window begins.
    { start: { line, column: column - shift }, end: { line: stop.line, column: stop.column } },
    { highlightCode: color, forceColor: color, linesAbove: 1, linesBelow: 1, startLine: first } as Parameters<typeof codeFrameColumns>[2],
  );
}
