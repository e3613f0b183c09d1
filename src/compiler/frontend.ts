import { readFileSync } from "node:fs";
import { createDiagnostic, hasErrors, type Diagnostic } from "../diagnostics/diagnostic.js";
import { UserError } from "../diagnostics/errors.js";
import { createSourceFile, spanOf, type SourceFile } from "../diagnostics/source.js";
import { checkSpec } from "../check/checker.js";
import { parse } from "../syntax/parse.js";
import { readJsonForm } from "../spec/json-form.js";
import { lower } from "../spec/lower.js";
import { validateAgainstSchema } from "../spec/schema.js";
import type { SourceMap } from "../spec/source-map.js";
import { SIDES, type RetrievalSpec, type Side, type Spec } from "../spec/types.js";
import { sideSpec } from "../spec/retrieval.js";
import { checkRetrievalSpec } from "../check/retrieval.js";
import type { ModelPlan } from "../plan/plan.js";
import { resolve } from "../plan/resolve.js";
import { fillDerivedDefaults, pruneInapplicable } from "../spec/normalize.js";
import { checkSize } from "../plan/size.js";
import { reportInto, wasSetIn } from "../check/context.js";

/** A problem reading the file itself (missing, unreadable, not UTF-8): a usage error, not a spec error. */
export class SpecReadError extends UserError {}

/** A checked retrieval spec with each tower's ranking-shaped view and its plan. */
export interface CompiledRetrieval {
  spec: RetrievalSpec;
  sides: Record<Side, { spec: Spec; plan: ModelPlan }>;
}

export interface CompiledSpec {
  file: SourceFile;
  /** Present for a checked `task: retrieval` spec (then `spec` and `plan` are absent). */
  retrieval?: CompiledRetrieval;
  /** Present when no stage reported an error. */
  spec?: Spec;
  /** The spec's model plan (without learned vocabularies), present with `spec`. */
  plan?: ModelPlan;
  diagnostics: Diagnostic[];
}

/** Real specs are kilobytes; the limit keeps a wrong file (data, a binary) from costing minutes. */
const MAX_SPEC_CHARS = 2 ** 20;

export function readSpecFile(path: string): SourceFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" ? "permission denied" : (e as Error).message;
    throw new SpecReadError(`cannot read ${path}: ${why}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SpecReadError(`cannot read ${path}: it is not UTF-8 text`);
  }
  return createSourceFile(path, text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
}

/**
 * The front end: text (.mdr or .json) → tokens → AST → spec object → schema defaults → semantic checks →
 * plan-level limits, stopping after the first stage with errors.
 */
export function compileSpecSource(file: SourceFile): CompiledSpec {
  const isJson = file.path.toLowerCase().endsWith(".json");
  if (file.text.length > MAX_SPEC_CHARS) {
    return { file, diagnostics: [createDiagnostic("too-large", {
      message: `This spec is ${(file.text.length / 2 ** 20).toFixed(1)} MiB; mdr reads specs of at most ${MAX_SPEC_CHARS / 2 ** 20} MiB.`,
      hint: "A spec describes a model, not data: keep vocabularies and values in data files.",
      span: spanOf(file, 0, 0),
    })] };
  }
  let raw: Record<string, unknown> | undefined;
  let sourceMap: SourceMap;
  const diagnostics: Diagnostic[] = [];
  if (isJson) {
    const r = readJsonForm(file);
    raw = r.spec;
    sourceMap = r.sourceMap;
    diagnostics.push(...r.diagnostics);
  } else {
    const parsed = parse(file);
    diagnostics.push(...parsed.diagnostics);
    if (parsed.diagnostics.some((d) => d.code === "MDR107" || d.code === "MDR108")) return { file, diagnostics };
    const lowered = lower(parsed.document);
    diagnostics.push(...lowered.diagnostics);
    raw = lowered.spec;
    sourceMap = lowered.sourceMap;
  }
  if (!raw || hasErrors(diagnostics)) return { file, diagnostics };
  const explicit = structuredClone(raw);
  diagnostics.push(...validateAgainstSchema(raw, sourceMap));
  if (hasErrors(diagnostics)) return { file, diagnostics };
  if (raw.task === "retrieval") return finishRetrieval(file, raw as unknown as RetrievalSpec, explicit, sourceMap, diagnostics);
  const spec = raw as unknown as Spec;
  fillDerivedDefaults(spec, wasSetIn(explicit));
  diagnostics.push(...checkSpec(spec, explicit, sourceMap));
  if (hasErrors(diagnostics)) return { file, diagnostics };
  pruneInapplicable(spec);
  // What cannot be built on this machine is refused before anything allocates it.
  const report = reportInto(diagnostics, sourceMap);
  const canonical = canonicalOrder(spec);
  const plan = resolve(canonical);
  checkSize(plan, report);
  return hasErrors(diagnostics) ? { file, diagnostics } : { file, spec: canonical, plan, diagnostics };
}

/** Derived defaults, checks and per-tower plans of a schema-valid retrieval spec. */
function finishRetrieval(file: SourceFile, r: RetrievalSpec, explicit: Record<string, unknown>, sourceMap: SourceMap, diagnostics: Diagnostic[]): CompiledSpec {
  const wasSet = wasSetIn(explicit);
  for (const side of SIDES) {
    const view = sideSpec(r, side);
    fillDerivedDefaults(view, (path) => wasSet(path.startsWith("/domain") || path.startsWith("/train") ? path : `/${side}${path}`));
    if (side === "query" && view.loss.router !== undefined) r.loss.router = view.loss.router;
  }
  if (!wasSet("/train/early_stopping/metric")) r.train.early_stopping.metric = "recall_at_100";
  // The item tower has no domain: what defaults to per-domain elsewhere defaults to shared there.
  const unset = (path: string) => !wasSet(`/item${path}`);
  r.item.towers.forEach((t, i) => unset(`/towers/${i}/per`) && (t.per = "shared"));
  r.item.gates.forEach((g, i) => {
    if (unset(`/gates/${i}/per`)) g.per = "all";
    if (unset(`/gates/${i}/inputs`)) g.inputs = g.inputs.filter((x) => x !== "domain");
  });
  diagnostics.push(...checkRetrievalSpec(r, explicit, sourceMap));
  if (hasErrors(diagnostics)) return { file, diagnostics };
  for (const side of SIDES) pruneInapplicable(sideSpec(r, side));
  const report = reportInto(diagnostics, sourceMap);
  const canonical = sortKeysDeep(Object.fromEntries(["version", "model", "task", "domain", "query", "item", "embedding", "loss", "train"].map((k) => [k, (r as unknown as Record<string, unknown>)[k]]))) as RetrievalSpec;
  const sides = Object.fromEntries(SIDES.map((side) => {
    const view = sideSpec(canonical, side);
    return [side, { spec: view, plan: resolve(view, { towerWidth: canonical.embedding.dim }) }];
  })) as CompiledRetrieval["sides"];
  for (const side of SIDES) checkSize(sides[side].plan, (name, path, init, at) => report(name, `/${side}${path}`, init, at));
  return hasErrors(diagnostics) ? { file, diagnostics } : { file, retrieval: { spec: canonical, sides }, diagnostics };
}

export function compileSpecFile(path: string): CompiledSpec {
  return compileSpecSource(readSpecFile(path));
}

/** Key order of the canonical JSON is fixed, so equal specs serialise to equal bytes (and hashes). */
function canonicalOrder(spec: Spec): Spec {
  const order = ["version", "model", "label", "domain", "features", "experts", "gates", "stars", "towers", "loss", "train"];
  const out: Record<string, unknown> = {};
  for (const k of order) out[k] = (spec as unknown as Record<string, unknown>)[k];
  return sortKeysDeep(out) as Spec;
}

function sortKeysDeep(v: unknown, top = true): unknown {
  if (Array.isArray(v)) return v.map((x) => sortKeysDeep(x, false));
  if (v && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>);
    if (!top) entries.sort(([a], [b]) => (a === "name" ? -1 : b === "name" ? 1 : a === "kind" ? -1 : b === "kind" ? 1 : a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, x]) => [k, sortKeysDeep(x, false)]));
  }
  return v;
}
