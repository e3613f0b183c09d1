import { parseTree, printParseErrorCode, type Node, type ParseError } from "jsonc-parser";
import { createDiagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import { spanOf, type SourceFile } from "../diagnostics/source.js";
import { joinPath, SourceMap } from "./source-map.js";

export interface JsonFormResult {
  spec: Record<string, unknown> | undefined;
  sourceMap: SourceMap;
  diagnostics: Diagnostic[];
}

/** Reads a spec written as JSON, keeping the span of every key and value for diagnostics. */
export function readJsonForm(file: SourceFile): JsonFormResult {
  const errors: ParseError[] = [];
  const sourceMap = new SourceMap(spanOf(file, 0, 0));
  const deep = tooDeepAt(file.text);
  if (deep !== undefined) {
    const diagnostics = [createDiagnostic("too-deep", {
      message: `Objects and arrays are nested more than ${MAX_JSON_DEPTH} levels deep here.`,
      hint: "A spec needs a few levels; close the objects and arrays opened above.",
      span: spanOf(file, deep, deep + 1),
    })];
    return { spec: undefined, sourceMap, diagnostics };
  }
  const root = parseTree(file.text, errors, { allowTrailingComma: false, disallowComments: true });
  const diagnostics = errors.map((e) => createDiagnostic("invalid-json", {
    message: `Malformed JSON: ${printParseErrorCode(e.error).replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()}.`,
    hint: "Fix the JSON syntax, or write the spec in .mdr form.",
    span: spanOf(file, e.offset, e.offset + Math.max(1, e.length)),
  }));
  if (!root || diagnostics.length > 0) return { spec: undefined, sourceMap, diagnostics };
  const value = toValue(root, "", undefined);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    diagnostics.push(createDiagnostic("wrong-type", {
      message: "A JSON spec must be an object.",
      hint: 'Start with `{ "model": "name", … }`.',
      span: spanOf(file, root.offset, root.offset + root.length),
    }));
    return { spec: undefined, sourceMap, diagnostics };
  }
  // "$schema" points editors at the schema for completion; it is not part of the spec.
  delete (value as Record<string, unknown>).$schema;
  return { spec: value as Record<string, unknown>, sourceMap, diagnostics };

  function toValue(node: Node, path: string, keyNode: Node | undefined): unknown {
    sourceMap.set(path, {
      ...(keyNode ? { key: spanOf(file, keyNode.offset, keyNode.offset + keyNode.length) } : {}),
      value: spanOf(file, node.offset, node.offset + node.length),
    });
    switch (node.type) {
      case "object": {
        const obj: Record<string, unknown> = {};
        for (const prop of node.children ?? []) {
          const [k, v] = prop.children ?? [];
          if (!k || !v) continue;
          obj[k.value as string] = toValue(v, joinPath(path, k.value as string), k);
        }
        return obj;
      }
      case "array":
        return (node.children ?? []).map((child, i) => toValue(child, joinPath(path, i), undefined));
      default:
        return node.value;
    }
  }
}

const MAX_JSON_DEPTH = 64;

/** The offset of the first '{' or '[' nested beyond MAX_JSON_DEPTH (outside strings), before the recursive parser sees it. */
function tooDeepAt(text: string): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash escapes the next character
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 || c === 91) {
      if (++depth > MAX_JSON_DEPTH) return i;
    } else if (c === 125 || c === 93) {
      depth = Math.max(0, depth - 1);
    }
  }
  return undefined;
}
