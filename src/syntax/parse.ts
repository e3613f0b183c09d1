import type { CstNode, IRecognitionException, IToken } from "chevrotain";
import { createDiagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import { spanOf, type SourceFile, type Span } from "../diagnostics/source.js";
import type { Block, Comment, Document, Entry, Name, Property, Value } from "./ast.js";
import { mdrParser, TooManySyntaxErrors } from "./parser.js";
import { LBrace, LBracket, mdrLexer, RBrace, RBracket, UnterminatedString } from "./tokens.js";

type Children = Record<string, (CstNode | IToken)[] | undefined>;

/** Tokens inserted by error recovery have no offsets; they must not become AST nodes. */
function isReal(token: IToken | undefined): token is IToken {
  return token !== undefined && !token.isInsertedInRecovery && Number.isFinite(token.startOffset);
}

function tokenSpan(file: SourceFile, token: IToken): Span {
  // Chevrotain's endOffset is inclusive; spans are end-exclusive.
  return spanOf(file, token.startOffset, (token.endOffset ?? token.startOffset) + 1);
}

function tokens(children: Children, key: string): IToken[] {
  return ((children[key] ?? []) as IToken[]).filter(isReal);
}

function nodes(children: Children, key: string): CstNode[] {
  return (children[key] ?? []) as CstNode[];
}

/** Builds the AST from the CST (the grammar is five small rules, so a direct walk reads better than a visitor). */
class AstBuilder {
  constructor(private readonly file: SourceFile, private readonly diagnostics: Diagnostic[]) {}

  private span(node: CstNode): Span {
    const loc = node.location;
    if (!loc || !Number.isFinite(loc.startOffset)) return spanOf(this.file, this.file.text.length, this.file.text.length);
    const end = Number.isFinite(loc.endOffset) ? (loc.endOffset as number) + 1 : loc.startOffset + 1;
    return spanOf(this.file, loc.startOffset, end);
  }

  fileEntries(node: CstNode): Entry[] {
    return this.entries(node.children as Children);
  }

  private entries(children: Children): Entry[] {
    const out: Entry[] = [];
    for (const e of nodes(children, "entry")) {
      const entry = this.toEntry(e);
      if (entry) out.push(entry);
    }
    return out;
  }

  private toEntry(node: CstNode): Entry | undefined {
    const c = node.children as Children;
    const keyToken = tokens(c, "key")[0];
    if (!keyToken) return undefined;
    const key: Name = { text: keyToken.image, span: tokenSpan(this.file, keyToken) };
    const blockNode = nodes(c, "block")[0];
    if (blockNode) {
      const nameToken = tokens(c, "name")[0];
      const block: Block = {
        kind: "block",
        keyword: key,
        ...(nameToken ? { name: { text: nameToken.image, span: tokenSpan(this.file, nameToken) } } : {}),
        entries: this.entries(blockNode.children as Children),
        span: this.span(node),
      };
      return block;
    }
    const valueNode = nodes(c, "value")[0];
    const value = valueNode ? this.toValue(valueNode) : undefined;
    const property: Property = { kind: "property", key, ...(value ? { value } : {}), span: this.span(node) };
    return property;
  }

  private toValue(node: CstNode): Value | undefined {
    const c = node.children as Children;
    const str = tokens(c, "StringLiteral")[0];
    if (str) return { kind: "string", value: unquote(str), span: tokenSpan(this.file, str) };
    const num = tokens(c, "NumberLiteral")[0];
    if (num) {
      const value = Number(num.image);
      const span = tokenSpan(this.file, num);
      if (!Number.isFinite(value)) {
        this.diagnostics.push(createDiagnostic("invalid-number", {
          message: `'${num.image}' is too large to be a number.`,
          hint: "Use a number between -1.7e308 and 1.7e308.",
          span,
        }));
      }
      return { kind: "number", value, raw: num.image, span };
    }
    const word = tokens(c, "Identifier")[0];
    if (word) return { kind: "word", value: word.image, span: tokenSpan(this.file, word) };
    const listNode = nodes(c, "list")[0];
    if (listNode) {
      const items: Value[] = [];
      for (const v of nodes(listNode.children as Children, "value")) {
        const item = this.toValue(v);
        if (item) items.push(item);
      }
      return { kind: "list", items, span: this.span(listNode) };
    }
    return undefined;
  }
}

function unquote(token: IToken): string {
  const closed = token.tokenType !== UnterminatedString;
  const body = token.image.slice(1, closed ? -1 : undefined);
  return body.replace(/\\(.)/g, (_, ch: string) => ({ n: "\n", t: "\t", r: "\r" } as Record<string, string>)[ch] ?? ch);
}

function describeToken(token: IToken): string {
  if (token.tokenType.name === "EOF") return "the end of the file";
  return `'${token.image}'`;
}

function syntaxDiagnostic(file: SourceFile, error: IRecognitionException): Diagnostic {
  const token = error.token;
  const atEnd = token.tokenType.name === "EOF" || !Number.isFinite(token.startOffset);
  // Point at the offending token, or just past the last real token when the file ended early.
  const previous = (error as { previousToken?: IToken }).previousToken;
  const span = atEnd
    ? previous && Number.isFinite(previous.endOffset)
      ? spanOf(file, (previous.endOffset as number) + 1, (previous.endOffset as number) + 1)
      : spanOf(file, file.text.length, file.text.length)
    : tokenSpan(file, token);
  const expected = expectedFrom(error);
  const found = atEnd ? "the end of the file" : describeToken(token);
  const message = expected ? `Expected ${expected} but found ${found}.` : `Unexpected ${found}.`;
  return createDiagnostic(atEnd ? "unexpected-end" : "unexpected-token", {
    message,
    hint: hintFor(expected, atEnd),
    span,
  });
}

/** Chevrotain's messages list token labels; we keep the labels and drop its wording. */
function expectedFrom(error: IRecognitionException): string | undefined {
  const msg = error.message;
  const single = /Expecting (?:token of type )?--> (.*?) <--/.exec(msg);
  if (single) return single[1];
  const alts = [...msg.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1].trim()).filter(Boolean);
  if (alts.length > 0) return unique(alts.flatMap((a) => a.split(/,\s*/))).join(" or ");
  if (error.name === "NotAllInputParsedException") return "a name starting an entry";
  return undefined;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function hintFor(expected: string | undefined, atEnd: boolean): string {
  if (atEnd) return "Close every '{' with '}' and every '[' with ']'.";
  if (expected?.includes("':'")) return "Write properties as `key: value` and blocks as `keyword name { … }`.";
  if (expected?.includes("']'")) return "Separate list items with commas and close the list with ']'.";
  return "Entries are `key: value` or `keyword [name] { … }`; strings need double quotes.";
}

export interface ParseResult {
  document: Document;
  diagnostics: Diagnostic[];
}

/** Parses `.mdr` text. Never throws: every problem becomes a diagnostic, and recovery keeps going. */
export function parse(file: SourceFile): ParseResult {
  const diagnostics: Diagnostic[] = [];
  const empty = (): ParseResult => ({ document: { file, entries: [], comments: [] }, diagnostics });
  // Limits keep hostile input from costing minutes or the stack: real specs are a few levels deep.
  const lexed = mdrLexer.tokenize(file.text);
  const stop = (offset: number) => {
    diagnostics.length = Math.min(diagnostics.length, MAX_ERRORS);
    diagnostics.push(createDiagnostic("too-large", {
      message: `Reading stopped after ${MAX_ERRORS} errors.`,
      hint: "Is this an .mdr spec? Fix the first errors and run again.",
      span: spanOf(file, offset, offset),
    }));
    return empty();
  };
  for (const e of lexed.errors) {
    const ch = file.text.slice(e.offset, e.offset + e.length);
    diagnostics.push(createDiagnostic("unexpected-character", {
      message: `Unexpected character '${ch.length > 20 ? ch.slice(0, 20) + "…" : ch}'.`,
      hint: "Names use letters, digits, '_' and '-'; put other text in double quotes; comments start with '#'.",
      span: spanOf(file, e.offset, e.offset + Math.max(1, e.length)),
    }));
  }
  for (const t of lexed.tokens) {
    if (t.tokenType === UnterminatedString) {
      diagnostics.push(createDiagnostic("unterminated-string", {
        message: "This string has no closing quote.",
        hint: "End the string with '\"' on the same line.",
        span: tokenSpan(file, t),
      }));
    }
  }
  if (diagnostics.length > MAX_ERRORS) return stop(diagnostics[MAX_ERRORS].span?.start ?? 0);
  const deep = tooDeep(lexed.tokens);
  if (deep) {
    diagnostics.push(createDiagnostic("too-deep", {
      message: `Blocks and lists are nested more than ${MAX_DEPTH} levels deep here.`,
      hint: "A spec needs a few levels (model { features { … } }); close the blocks and lists opened above.",
      span: tokenSpan(file, deep),
    }));
    return empty();
  }
  mdrParser.input = lexed.tokens;
  let cst: CstNode;
  try {
    cst = mdrParser.file();
  } catch (e) {
    if (!(e instanceof TooManySyntaxErrors)) throw e;
    for (const err of mdrParser.errors) diagnostics.push(syntaxDiagnostic(file, err));
    return stop(mdrParser.errors[mdrParser.errors.length - 1]?.token.startOffset ?? 0);
  }
  for (const e of mdrParser.errors) diagnostics.push(syntaxDiagnostic(file, e));
  const builder = new AstBuilder(file, diagnostics);
  const entries = builder.fileEntries(cst);
  const comments: Comment[] = (lexed.groups.comments ?? []).map((t) => ({ text: t.image, span: tokenSpan(file, t) }));
  return { document: { file, entries, comments }, diagnostics };
}

const MAX_DEPTH = 64;
const MAX_ERRORS = mdrParser.maxErrors;

/** The first token that opens a block or list beyond MAX_DEPTH levels. */
function tooDeep(tokens: IToken[]): IToken | undefined {
  let depth = 0;
  for (const t of tokens) {
    if (t.tokenType === LBrace || t.tokenType === LBracket) {
      if (++depth > MAX_DEPTH) return t;
    } else if (t.tokenType === RBrace || t.tokenType === RBracket) {
      depth = Math.max(0, depth - 1);
    }
  }
  return undefined;
}
