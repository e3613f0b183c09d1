import { positionAt } from "../diagnostics/source.js";
import type { Block, Comment, Document, Entry, Value } from "../syntax/ast.js";

const INDENT = "  ";
const MAX_WIDTH = 100;

/**
 * Canonical layout of a parsed document: two-space indents, one entry per line, `key: value`, lists as
 * `[a, b]`, comments kept where they were (own-line or end-of-line), at most one blank line kept between
 * entries. A block written on one line stays on one line when it holds only properties and fits in 100
 * columns (as Prettier does for objects), so the formatter never fights a deliberate compact feature list.
 * The caller must not format a document with syntax errors: recovery may have dropped text.
 */
export function formatDocument(doc: Document): string {
  const text = doc.file.text;
  const comments = [...doc.comments].sort((a, b) => a.span.start - b.span.start);
  let next = 0;
  const out: string[] = [];
  const lineOf = (offset: number) => positionAt(doc.file, offset).line;

  /** Own-line comments before `offset`, each on its own line, with blank lines kept (at most one). */
  const leading = (offset: number, indent: string, previousEnd: number | undefined) => {
    let prev = previousEnd;
    while (next < comments.length && comments[next].span.start < offset) {
      const c = comments[next++];
      if (prev !== undefined && hasBlankLine(text, prev, c.span.start)) out.push("");
      out.push(indent + c.text.trimEnd());
      prev = c.span.end;
    }
    return prev;
  };
  /** An end-of-line comment right after `offset`, on the same line. */
  const trailing = (offset: number, before = Infinity): string => {
    const c = comments[next];
    if (c && c.span.start < before && lineOf(c.span.start) === lineOf(Math.max(0, offset - 1)) && c.span.start >= offset - 1) {
      next++;
      return " " + c.text.trimEnd();
    }
    return "";
  };

  const entries = (list: readonly Entry[], depth: number, closeOffset: number) => {
    const indent = INDENT.repeat(depth);
    let prevEnd: number | undefined;
    for (const e of list) {
      const afterComments = leading(e.span.start, indent, prevEnd);
      const gapFrom = afterComments ?? prevEnd;
      if (gapFrom !== undefined && hasBlankLine(text, gapFrom, e.span.start) && out[out.length - 1] !== "") out.push("");
      entry(e, depth);
      prevEnd = e.span.end;
    }
    // Comments at the end of a block, before its closing brace.
    leading(closeOffset, indent, prevEnd);
  };

  const entry = (e: Entry, depth: number) => {
    const indent = INDENT.repeat(depth);
    if (e.kind === "property") {
      out.push(`${indent}${e.key.text}: ${e.value ? formatValue(e.value) : ""}${trailing(e.span.end)}`);
      return;
    }
    const head = `${indent}${e.keyword.text}${e.name ? ` ${e.name.text}` : ""}`;
    const inline = inlineBlock(e, head, text, comments, next);
    if (inline !== undefined) {
      out.push(inline + trailing(e.span.end));
      return;
    }
    const openBrace = e.name ? e.name.span.end : e.keyword.span.end;
    // A comment after '{' belongs to the header only if no entry starts on that line before it.
    out.push(`${head} {${trailing(text.indexOf("{", openBrace) + 1, e.entries[0]?.span.start ?? Infinity)}`);
    entries(e.entries, depth + 1, e.span.end - 1);
    out.push(`${indent}}${trailing(e.span.end)}`);
  };

  entries(doc.entries, 0, text.length);
  // Drop leading/trailing blank lines; end with exactly one newline.
  while (out.length && out[0] === "") out.shift();
  while (out.length && out[out.length - 1] === "") out.pop();
  return out.join("\n") + "\n";
}

function inlineBlock(b: Block, head: string, text: string, comments: readonly Comment[], next: number): string | undefined {
  if (b.entries.length === 0) return `${head} {}`;
  const sameLine = !text.slice(b.span.start, b.span.end).includes("\n");
  if (!sameLine || b.entries.some((e) => e.kind === "block")) return undefined;
  if (next < comments.length && comments[next].span.start < b.span.end) return undefined;
  const body = b.entries.map((e) => (e.kind === "property" ? `${e.key.text}: ${e.value ? formatValue(e.value) : ""}` : "")).join(", ");
  const line = `${head} { ${body} }`;
  return line.length <= MAX_WIDTH ? line : undefined;
}

export function formatValue(v: Value): string {
  switch (v.kind) {
    case "string":
      return JSON.stringify(v.value);
    case "number":
      return v.raw;
    case "word":
      return v.value;
    case "list":
      return `[${v.items.map(formatValue).join(", ")}]`;
  }
}

function hasBlankLine(text: string, from: number, to: number): boolean {
  let newlines = 0;
  for (let i = from; i < to; i++) {
    if (text.charCodeAt(i) === 10 && ++newlines >= 2) return true;
  }
  return false;
}
