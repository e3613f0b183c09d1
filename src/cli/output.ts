import pc from "picocolors";
import { UserError } from "../diagnostics/errors.js";
import { sortDiagnostics, type Diagnostic } from "../diagnostics/diagnostic.js";
import { formatGithub, formatText, toJson, type DiagnosticFormat } from "../diagnostics/format.js";

/** A user error: printed as one line, exit code as given, never with a stack trace. */
export class UsageError extends UserError {}

export const useColor = (stream: NodeJS.WriteStream) => Boolean(stream.isTTY) && pc.isColorSupported;

export interface FileDiagnostics {
  file: string;
  diagnostics: Diagnostic[];
}

/** Prints diagnostics of several files in one format; returns the error and warning counts. */
export function printDiagnostics(results: FileDiagnostics[], format: DiagnosticFormat): { errors: number; warnings: number } {
  let errors = 0;
  let warnings = 0;
  for (const r of results) {
    for (const d of r.diagnostics) d.severity === "error" ? errors++ : warnings++;
  }
  if (format === "json") {
    const files = results.map((r) => ({ file: r.file, diagnostics: sortDiagnostics(r.diagnostics).map(toJson) }));
    process.stdout.write(JSON.stringify({ files, errors, warnings }, null, 2) + "\n");
  } else if (format === "github") {
    for (const r of results) for (const d of sortDiagnostics(r.diagnostics)) process.stdout.write(formatGithub(d) + "\n");
  } else {
    const color = useColor(process.stderr);
    for (const r of results) for (const d of sortDiagnostics(r.diagnostics)) process.stderr.write(formatText(d, color) + "\n\n");
  }
  return { errors, warnings };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
