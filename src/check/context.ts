import { createDiagnostic, type Diagnostic, type DiagnosticInit } from "../diagnostics/diagnostic.js";
import { getPath } from "../spec/normalize.js";
import type { SourceMap } from "../spec/source-map.js";
import type { DiagnosticName } from "../diagnostics/codes.js";
import type { ExpertPoolSpec, GateSpec } from "../spec/types.js";

/** What an `input:` or `pools:` name can refer to. */
export type Component = { kind: "pool"; spec: ExpertPoolSpec; path: string }
  | { kind: "gate"; spec: GateSpec; path: string }
  | { kind: "star"; spec: { name: string; input: string }; path: string }
  | { kind: "tower"; spec: { name: string; input: string }; path: string };

/** Reports a diagnostic at a JSON path (its key or its value). */
export type Report = (name: DiagnosticName, path: string, init: Omit<DiagnosticInit, "span" | "path">, at?: "key" | "value") => void;
/** Whether the user wrote a value at this path (as opposed to a filled-in default). */
export type WasSet = (path: string) => boolean;

/** A Report that adds each diagnostic to `out`, positioned through the source map. */
export function reportInto(out: Diagnostic[], sourceMap: SourceMap): Report {
  return (name, path, init, at = "value") => {
    out.push(createDiagnostic(name, { ...init, span: at === "key" ? sourceMap.keySpan(path) : sourceMap.valueSpan(path), path }));
  };
}

/** WasSet over the spec as the user wrote it (before defaults). */
export function wasSetIn(explicit: unknown): WasSet {
  return (path) => getPath(explicit, path) !== undefined;
}
