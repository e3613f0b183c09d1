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
