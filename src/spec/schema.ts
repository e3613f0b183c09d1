import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject } from "ajv";
import type { DiagnosticName } from "../diagnostics/codes.js";
import { createDiagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import { didYouMean, quoteList } from "../diagnostics/suggest.js";
import { joinPath, type SourceMap } from "./source-map.js";

export const specSchemaUrl = new URL("../../../schemas/mdr-spec.schema.json", import.meta.url);
export const specSchema = JSON.parse(readFileSync(specSchemaUrl, "utf8")) as Record<string, unknown>;

export const retrievalSchemaUrl = new URL("../../../schemas/mdr-retrieval.schema.json", import.meta.url);
export const retrievalSchema = JSON.parse(readFileSync(retrievalSchemaUrl, "utf8")) as Record<string, unknown>;

const ajv = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, verbose: true, strict: false });
const validateRanking = ajv.compile(specSchema);
// Compiled on first use: most runs never see a retrieval spec.
let validateRetrieval: ReturnType<typeof ajv.compile> | undefined;

/**
 * Validates the spec object against schemas/mdr-spec.schema.json and fills every schema default in place.
 * Each ajv error becomes a positioned diagnostic through the source map.
 */
export function validateAgainstSchema(spec: Record<string, unknown>, sourceMap: SourceMap): Diagnostic[] {
  const validate = spec.task === "retrieval" ? (validateRetrieval ??= ajv.compile(retrievalSchema)) : validateRanking;
  if (validate(spec)) return [];
  const errors = (validate.errors ?? []).filter((e) => !isNoise(e, validate.errors ?? []));
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of errors) {
    const d = toDiagnostic(e, sourceMap, spec);
    const key = `${d.code}:${d.span?.start}:${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

/** ajv also reports the umbrella errors ("must match a schema in oneOf") of the precise ones we keep. */
function isNoise(e: ErrorObject, all: ErrorObject[]): boolean {
  if (e.keyword === "oneOf" || e.keyword === "if") return true;
  // An integer-vs-number or exclusiveMinimum on a value that already has a type error.
  if (e.keyword !== "type") return all.some((o) => o !== e && o.keyword === "type" && o.instancePath === e.instancePath);
  return false;
}

function where(path: string): string {
  return path === "" ? "the spec" : path;
}

function toDiagnostic(e: ErrorObject, sourceMap: SourceMap, spec: Record<string, unknown>): Diagnostic {
  return shapeDiagnostic(e, sourceMap, spec) ?? valueDiagnostic(e, sourceMap);
}

/** Errors about the spec's shape: unknown or missing properties, an unknown feature kind. */
function shapeDiagnostic(e: ErrorObject, sourceMap: SourceMap, spec: Record<string, unknown>): Diagnostic | undefined {
  const describe = (p: string) => describePath(p, spec);
  const path = e.instancePath;
  switch (e.keyword) {
    case "additionalProperties": {
      const prop = (e.params as { additionalProperty: string }).additionalProperty;
      const propPath = joinPath(path, prop);
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {}).filter((k) => k !== "kind");
      return createDiagnostic("unknown-property", {
        message: `Unknown property '${prop}' in ${describe(path)}.`,
        hint: didYouMean(prop, allowed) ?? `Allowed here: ${allowed.join(", ")}.`,
        span: sourceMap.keySpan(propPath),
        path: propPath,
      });
    }
    case "required": {
      const prop = (e.params as { missingProperty: string }).missingProperty;
      return createDiagnostic("missing-property", {
        message: `${capitalize(describe(path))} needs '${prop}'.`,
        hint: requiredHint(path, prop),
        span: sourceMap.keySpan(path),
        path: joinPath(path, prop),
      });
    }
    case "discriminator": {
      const kinds = ((e.parentSchema as { oneOf?: { title?: string }[] }).oneOf ?? []).map((b) => b.title ?? "");
      const tag = String((e.params as { tagValue?: unknown }).tagValue ?? "");
      return createDiagnostic("invalid-value", {
        message: `'${tag}' is not a kind of feature.`,
        hint: [didYouMean(tag, kinds), `Allowed: ${quoteList(kinds)}.`].filter(Boolean).join(" "),
        span: sourceMap.valueSpan(joinPath(path, "kind")),
        path: joinPath(path, "kind"),
      });
    }
    default:
      return undefined;
  }
}

/** Errors about one value: its type, range, allowed values or pattern. */
function valueDiagnostic(e: ErrorObject, sourceMap: SourceMap): Diagnostic {
  const path = e.instancePath;
  const last = path.slice(path.lastIndexOf("/") + 1);
  const span = sourceMap.valueSpan(path);
  const at = (name: DiagnosticName, message: string, hint?: string) => createDiagnostic(name, { message, ...(hint !== undefined ? { hint } : {}), span, path });
  switch (e.keyword) {
    case "enum":
    case "const": {
      const allowed = e.keyword === "enum" ? (e.params as { allowedValues: unknown[] }).allowedValues : [(e.params as { allowedValue: unknown }).allowedValue];
      return at("invalid-value", `'${String(e.data)}' is not a valid value for '${last}'.`, [didYouMean(String(e.data), allowed.map(String)), `Allowed: ${quoteList(allowed.map(String))}.`].filter(Boolean).join(" "));
    }
    case "type": {
      const expected = (e.params as { type: string }).type;
      return at("wrong-type", `'${last}' must be ${article(expected)}, not ${describeValue(e.data)}.`, typeHint(expected));
    }
    case "minimum":
    case "exclusiveMinimum":
    case "maximum":
    case "exclusiveMaximum": {
      const { comparison, limit } = e.params as { comparison: string; limit: number };
      const positive = e.keyword === "exclusiveMinimum" && limit === 0;
      return at("out-of-range", positive ? `'${last}' must be positive, not ${String(e.data)}.` : `'${last}' must be ${comparison} ${limit}, not ${String(e.data)}.`, positive ? "Sizes, counts and rates are greater than zero." : `Use a value ${comparison} ${limit}.`);
    }
    case "minItems":
    case "maxItems": {
      const { limit } = e.params as { limit: number };
      return at("out-of-range", `'${last}' needs ${e.keyword === "minItems" ? "at least" : "at most"} ${limit} item${limit === 1 ? "" : "s"}.`, last === "range" ? "Write `range: [min, max]`." : `Give ${e.keyword === "minItems" ? "at least" : "at most"} ${limit}.`);
    }
    case "uniqueItems":
      return at("duplicate-property", `'${last}' lists the same item twice.`, "List each item once.");
    case "pattern":
      return at("invalid-value", `'${String(e.data)}' is not a valid name.`, "Names use letters, digits, '_' and '-', and do not start with a digit.");
    default:
      return at("invalid-value", `${where(path)} ${e.message ?? "is invalid"}.`);
  }
}

/** "expert pool 'shared'" rather than "/experts/0": name the construct as the user wrote it. */
function describePath(path: string, spec: Record<string, unknown>): string {
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0) return "the model";
  if ((parts[0] === "query" || parts[0] === "item") && parts.length > 1) {
    const side = spec[parts[0]] as Record<string, unknown> | undefined;
    return `${describePath("/" + parts.slice(1).join("/"), side ?? {})} of the ${parts[0]} tower`;
  }
  const labels: Record<string, string> = { experts: "expert pool", gates: "gate", stars: "STAR layer", towers: "tower", features: "feature" };
  if (parts.length >= 2 && labels[parts[0]] && /^\d+$/.test(parts[1])) {
    const item = (spec[parts[0]] as Record<string, unknown>[] | undefined)?.[Number(parts[1])];
    const name = typeof item?.name === "string" ? `'${item.name}'` : `#${Number(parts[1]) + 1}`;
    const rest = parts.slice(2).join(".");
    return `${labels[parts[0]]} ${name}${rest ? ` (${rest})` : ""}`;
  }
  return `'${parts.join(".")}'`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function article(type: string): string {
  return { integer: "a whole number", number: "a number", string: "a string", boolean: "true or false", array: "a list", object: "a block" }[type] ?? type;
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return `the word '${v}'`;
  if (typeof v === "number") return Number.isInteger(v) ? `${v}` : `the fraction ${v}`;
  if (typeof v === "boolean") return String(v);
  if (v === null) return "null";
  return "a block";
}

function typeHint(type: string): string {
  switch (type) {
    case "array": return "Write a list in brackets: `[a, b]`.";
    case "object": return "Write a block: `name { key: value }`.";
    case "string": return 'Write text in double quotes: "column name".';
    case "boolean": return "Write true or false.";
    default: return `Write ${article(type)}.`;
  }
}

function requiredHint(path: string, prop: string): string {
  if (path === "" && prop === "domain") return "Add `domain <name> { values: [a, b] }`.";
  if (path === "" && prop === "features") return "Add `features { categorical user { dim: 16 } }`.";
  if (path === "" && prop === "towers") return "Add `tower { input: <gate or pool>, layers: [32] }`.";
  return `Add \`${prop}: …\`.`;
}
