import type { SourceFile, Span } from "../diagnostics/source.js";

/** A name as written, with where it was written. */
export interface Name {
  readonly text: string;
  readonly span: Span;
}

export type Value = StringValue | NumberValue | WordValue | ListValue;

export interface StringValue { readonly kind: "string"; readonly value: string; readonly span: Span }
export interface NumberValue { readonly kind: "number"; readonly value: number; readonly raw: string; readonly span: Span }
/** A bare word: an enum value (`relu`), a reference (`shared`), or `true`/`false`. */
export interface WordValue { readonly kind: "word"; readonly value: string; readonly span: Span }
export interface ListValue { readonly kind: "list"; readonly items: readonly Value[]; readonly span: Span }

/** `key: value` */
export interface Property {
  readonly kind: "property";
  readonly key: Name;
  /** Absent when error recovery dropped it; a diagnostic has been reported. */
  readonly value?: Value;
  readonly span: Span;
}

/** `keyword [name] { entries }` */
export interface Block {
  readonly kind: "block";
  readonly keyword: Name;
  readonly name?: Name;
  readonly entries: readonly Entry[];
  readonly span: Span;
}

export type Entry = Property | Block;

export interface Comment {
  readonly text: string;
  readonly span: Span;
}

export interface Document {
  readonly file: SourceFile;
  readonly entries: readonly Entry[];
  readonly comments: readonly Comment[];
}
