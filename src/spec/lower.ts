import { createDiagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import { spanOf, type Span } from "../diagnostics/source.js";
import { didYouMean } from "../diagnostics/suggest.js";
import type { Block, Document, Entry, Property, Value } from "../syntax/ast.js";
import { joinPath, SourceMap } from "./source-map.js";

type Json = string | number | boolean | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** How each model-level section lowers into the spec object. */
interface SectionRule {
  /** Key of the spec object it fills. */
  readonly key: string;
  /** A list of named blocks (`experts a {…}` twice) or one object. */
  readonly many: boolean;
  readonly name: "required" | "optional" | "none";
}

const sections: Record<string, SectionRule> = {
  domain: { key: "domain", many: false, name: "required" },
  features: { key: "features", many: false, name: "none" },
  experts: { key: "experts", many: true, name: "required" },
  gate: { key: "gates", many: true, name: "required" },
  star: { key: "stars", many: true, name: "required" },
  tower: { key: "towers", many: true, name: "optional" },
  loss: { key: "loss", many: false, name: "none" },
  train: { key: "train", many: false, name: "none" },
  query: { key: "query", many: false, name: "none" },
  item: { key: "item", many: false, name: "none" },
  embedding: { key: "embedding", many: false, name: "none" },
};
const modelProperties = ["label", "task"];
/** What a retrieval model's `query { … }` and `item { … }` hold: a ranking model's fields and components. */
const sideSections = ["features", "experts", "gate", "star", "tower"];
export const featureKinds = ["categorical", "multi_categorical", "numeric"];

export interface LowerResult {
  spec: JsonObject | undefined;
  sourceMap: SourceMap;
  diagnostics: Diagnostic[];
}

/**
 * Turns the generic AST into the spec object (the canonical JSON shape, defaults not yet filled) and
 * records where every value came from. Section structure is checked here; property names and value
 * types are left to the JSON Schema so both input forms get the same messages.
 */
export function lower(doc: Document): LowerResult {
  const diagnostics: Diagnostic[] = [];
  const fileSpan = spanOf(doc.file, 0, 0);
  const sourceMap = new SourceMap(fileSpan);
  const model = theModel(doc, fileSpan, diagnostics);
  if (!model) return { spec: undefined, sourceMap, diagnostics };
  const spec: JsonObject = {};
  sourceMap.set("", { value: model.span });
  if (model.name) {
    spec.model = model.name.text;
    sourceMap.set("/model", { value: model.name.span });
  } else {
    diagnostics.push(missingName(model, "model"));
  }
  for (const entry of model.entries) {
    if (entry.kind === "property") {
      if (modelProperties.includes(entry.key.text)) setProperty(spec, "", entry, sourceMap, diagnostics);
      else diagnostics.push(unknownSection(entry.key.text, entry.key.span, true));
    } else {
      lowerSection(spec, entry, sourceMap, diagnostics);
    }
  }
  if (spec.task === "retrieval") misplacedInRetrieval(model, diagnostics);
  return { spec, sourceMap, diagnostics };
}

/** A retrieval model's fields and components live in its towers; a ranking-style one at the top is reported. */
function misplacedInRetrieval(model: Block, diagnostics: Diagnostic[]): void {
  for (const e of model.entries) {
    const word = e.kind === "block" ? e.keyword : e.key;
    if (!sideSections.includes(word.text) && word.text !== "label") continue;
    diagnostics.push(createDiagnostic("unknown-section", {
      message: word.text === "label"
        ? "A retrieval model has no label: every training row is a positive (query, item) pair."
        : `In a retrieval model, '${word.text}' belongs to a tower, not to the model.`,
      hint: word.text === "label" ? "Remove `label`." : "Move it into `query { … }` (query columns and the domain) or `item { … }` (item columns).",
      span: word.span,
    }));
  }
}

/** `query { … }` / `item { … }`: the same sections as a ranking model, under `/query` or `/item`. */
function lowerSide(block: Block, path: string, sourceMap: SourceMap, diagnostics: Diagnostic[]): JsonObject {
  const side: JsonObject = {};
  for (const entry of block.entries) {
    if (entry.kind === "property") {
      if (block.keyword.text === "item" && entry.key.text === "id") setProperty(side, path, entry, sourceMap, diagnostics);
      else diagnostics.push(notInSide(entry.key.text, entry.key.span, block.keyword.text));
    } else if (sideSections.includes(entry.keyword.text)) {
      lowerSection(side, entry, sourceMap, diagnostics, path);
    } else {
      diagnostics.push(notInSide(entry.keyword.text, entry.keyword.span, block.keyword.text));
    }
  }
  return side;
}

function notInSide(word: string, span: Span, side: string): Diagnostic {
  const known = side === "item" ? [...sideSections, "id"] : sideSections;
  const modelLevel = word in sections || modelProperties.includes(word);
  return createDiagnostic("unknown-section", {
    message: modelLevel ? `'${word}' belongs to the model, not to the ${side} tower.` : `'${word}' is not a section of the ${side} tower.`,
    hint: modelLevel ? "Move it out of the block, next to `query` and `item`." : didYouMean(word, known) ?? `The ${side} tower holds: ${known.join(", ")}.`,
    span,
  });
}

/** The file's one model block; anything beside it is reported. */
function theModel(doc: Document, fileSpan: Span, diagnostics: Diagnostic[]): Block | undefined {
  const models = doc.entries.filter((e): e is Block => e.kind === "block" && e.keyword.text === "model");
  for (const e of doc.entries) {
    if (e.kind === "block" && e.keyword.text === "model") continue;
    diagnostics.push(createDiagnostic("unknown-section", {
      message: `'${e.kind === "block" ? e.keyword.text : e.key.text}' cannot stand outside the model block.`,
      hint: "Everything goes inside `model <name> { … }`.",
      span: e.kind === "block" ? e.keyword.span : e.key.span,
    }));
  }
  if (models.length === 0) {
    diagnostics.push(createDiagnostic("missing-model", {
      message: "This file has no model.",
      hint: "Start with `model <name> { … }`; see grammar/README.md.",
      span: fileSpan,
    }));
    return undefined;
  }
  for (const extra of models.slice(1)) {
    diagnostics.push(createDiagnostic("multiple-models", {
      message: "A spec file holds one model; this is a second.",
      hint: "Put each model in its own .mdr file.",
      span: extra.keyword.span,
    }));
  }
  return models[0];
}

/** One section block of the model (`domain`, `experts …`, `features`, …) into its place in the spec. */
function lowerSection(spec: JsonObject, entry: Block, sourceMap: SourceMap, diagnostics: Diagnostic[], base = ""): void {
  const rule = sections[entry.keyword.text];
  if (!rule) {
    diagnostics.push(unknownSection(entry.keyword.text, entry.keyword.span, false));
    return;
  }
  if (rule.name === "required" && !entry.name) diagnostics.push(missingName(entry, entry.keyword.text));
  if (rule.name === "none" && entry.name) {
    diagnostics.push(createDiagnostic("missing-name", {
      message: `A '${entry.keyword.text}' section takes no name.`,
      hint: `Write \`${entry.keyword.text} { … }\`.`,
      span: entry.name.span,
    }));
  }
  let path: string;
  if (rule.many) {
    const list = (spec[rule.key] ??= []) as Json[];
    path = joinPath(`${base}/${rule.key}`, list.length);
    list.push({});
    sourceMap.set(`${base}/${rule.key}`, { value: entry.span });
  } else {
    if (spec[rule.key] !== undefined) {
      diagnostics.push(createDiagnostic("duplicate-property", {
        message: `The ${base ? base.slice(1) + " tower" : "model"} already has a '${entry.keyword.text}' section.`,
        hint: "Merge the two sections into one.",
        span: entry.keyword.span,
      }));
      return;
    }
    path = `${base}/${rule.key}`;
  }
  sourceMap.set(path, { key: entry.keyword.span, value: entry.span });
  const target = entry.keyword.text === "features" ? lowerFeatures(entry, path, sourceMap, diagnostics)
    : rule.key === "query" || rule.key === "item" ? lowerSide(entry, path, sourceMap, diagnostics)
      : lowerBlock(entry, path, sourceMap, diagnostics);
  if (rule.name === "optional" && !entry.name) (target as JsonObject).name = entry.keyword.text;
  if (rule.many) (spec[rule.key] as Json[])[(spec[rule.key] as Json[]).length - 1] = target;
  else spec[rule.key] = target;
}

function lowerFeatures(block: Block, base: string, sourceMap: SourceMap, diagnostics: Diagnostic[]): Json[] {
  const out: Json[] = [];
  for (const entry of block.entries) {
    if (entry.kind === "property" || !featureKinds.includes(entry.keyword.text)) {
      const word = entry.kind === "property" ? entry.key : entry.keyword;
      diagnostics.push(createDiagnostic("unknown-section", {
        message: `'${word.text}' is not a kind of feature.`,
        hint: [didYouMean(word.text, featureKinds), `Features are written \`categorical|multi_categorical|numeric <name> { … }\`.`]
          .filter(Boolean).join(" "),
        span: word.span,
      }));
      continue;
    }
    if (!entry.name) {
      diagnostics.push(missingName(entry, entry.keyword.text));
      continue;
    }
    const path = joinPath(base, out.length);
    sourceMap.set(path, { key: entry.keyword.span, value: entry.span });
    sourceMap.set(`${path}/kind`, { value: entry.keyword.span });
    const obj = lowerBlock(entry, path, sourceMap, diagnostics);
    out.push({ kind: entry.keyword.text, ...obj });
  }
  sourceMap.set(base, { key: block.keyword.span, value: block.span });
  return out;
}

/** A block becomes an object: its name (if any) under `name`, properties and nested blocks as keys. */
function lowerBlock(block: Block, path: string, sourceMap: SourceMap, diagnostics: Diagnostic[]): JsonObject {
  const obj: JsonObject = {};
  if (block.name) {
    obj.name = block.name.text;
    sourceMap.set(`${path}/name`, { value: block.name.span });
  }
  for (const entry of block.entries) {
    const key = entry.kind === "property" ? entry.key.text : entry.keyword.text;
    if (key in obj) {
      diagnostics.push(duplicate(entry, key));
      continue;
    }
    if (entry.kind === "property") {
      setProperty(obj, path, entry, sourceMap, diagnostics);
    } else {
      if (entry.name) {
        diagnostics.push(createDiagnostic("missing-name", {
          message: `'${key}' inside a section takes no name.`,
          hint: `Write \`${key} { … }\`.`,
          span: entry.name.span,
        }));
      }
      const childPath = joinPath(path, key);
      sourceMap.set(childPath, { key: entry.keyword.span, value: entry.span });
      obj[key] = lowerBlock({ ...entry, name: undefined }, childPath, sourceMap, diagnostics);
    }
  }
  return obj;
}

function setProperty(obj: JsonObject, path: string, entry: Property, sourceMap: SourceMap, diagnostics: Diagnostic[]): void {
  if (entry.key.text in obj) {
    diagnostics.push(duplicate(entry, entry.key.text));
    return;
  }
  if (!entry.value) return; // dropped by error recovery, already reported
  const childPath = joinPath(path, entry.key.text);
  obj[entry.key.text] = lowerValue(entry.value, childPath, sourceMap);
  sourceMap.set(childPath, { key: entry.key.span, value: entry.value.span });
}

function lowerValue(value: Value, path: string, sourceMap: SourceMap): Json {
  sourceMap.set(path, { value: value.span });
  switch (value.kind) {
    case "string":
    case "number":
      return value.value;
    case "word":
      return value.value === "true" ? true : value.value === "false" ? false : value.value;
    case "list":
      return value.items.map((item, i) => lowerValue(item, joinPath(path, i), sourceMap));
  }
}

function duplicate(entry: Entry, key: string): Diagnostic {
  return createDiagnostic("duplicate-property", {
    message: `'${key}' is given twice in this section.`,
    hint: "Keep one of them.",
    span: entry.kind === "property" ? entry.key.span : entry.keyword.span,
  });
}

function missingName(block: Block, what: string): Diagnostic {
  return createDiagnostic("missing-name", {
    message: `This '${what}' needs a name.`,
    hint: `Write \`${block.keyword.text} <name> { … }\`.`,
    span: block.keyword.span,
  });
}

function unknownSection(word: string, span: Span, isProperty: boolean): Diagnostic {
  const known = [...Object.keys(sections), ...modelProperties];
  const suggestion = didYouMean(word, known);
  return createDiagnostic("unknown-section", {
    message: `'${word}' is not a ${isProperty ? "model property" : "section"}.`,
    hint: suggestion ?? `A model holds: ${known.join(", ")}.`,
    span,
  });
}
