import { diagnosticCodes, type DiagnosticName, type Severity } from "./codes.js";
import type { Span } from "./source.js";

export interface Diagnostic {
  readonly code: string;
  readonly name: DiagnosticName;
  readonly severity: Severity;
  /** One sentence: what is wrong. */
  readonly message: string;
  /** One sentence: how to fix it, where we know. */
  readonly hint?: string;
  /** Where; absent only for problems of a whole file that has no text (e.g. an empty JSON document). */
  readonly span?: Span;
  /** For specs given as JSON (and for lowered text specs): the JSON path of the offending value. */
  readonly path?: string;
}

export interface DiagnosticInit {
  message: string;
  hint?: string;
  span?: Span;
  path?: string;
}

export function createDiagnostic(name: DiagnosticName, init: DiagnosticInit): Diagnostic {
  const info = diagnosticCodes[name];
  return { code: info.code, name, severity: info.severity, ...init };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** Orders diagnostics by file and position, so output reads top to bottom. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => {
    const fa = a.span?.file.path ?? "";
    const fb = b.span?.file.path ?? "";
    if (fa !== fb) return fa < fb ? -1 : 1;
    return (a.span?.start ?? 0) - (b.span?.start ?? 0);
  });
}

/** A compiler bug, never a user error: the CLI prints these with a request to report them. */
export class CompilerBug extends Error {}

export function compilerAssert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CompilerBug(message);
}
