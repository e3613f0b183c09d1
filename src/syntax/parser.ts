import { CstParser, type CstNode, type IToken } from "chevrotain";
import {
  allTokens, Colon, Comma, Identifier, LBrace, LBracket, NumberLiteral, RBrace, RBracket, StringLiteral,
} from "./tokens.js";

/**
 * The whole grammar: a file is a list of entries; an entry is `key: value` or `keyword [name] { entries }`.
 * Which sections and properties exist is the spec schema's business, not the grammar's, so a misspelt
 * property gets a "did you mean" instead of a bare syntax error.
 */
export class MdrParser extends CstParser {
  constructor() {
    super(allTokens, { recoveryEnabled: true, maxLookahead: 3, nodeLocationTracking: "full" });
    this.performSelfAnalysis();
  }

  /** Error recovery on pages of garbage costs minutes; past this many errors the parse is abandoned. */
  maxErrors = 100;

  public file = this.RULE("file", () => {
    this.MANY(() => this.SUBRULE(this.entry));
  });

  public entry = this.RULE("entry", () => {
    this.CONSUME(Identifier, { LABEL: "key" });
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Colon);
          this.SUBRULE(this.value);
        },
      },
      {
        ALT: () => {
          this.OPTION(() => this.CONSUME2(Identifier, { LABEL: "name" }));
          this.SUBRULE(this.block);
        },
      },
    ]);
    this.OPTION2(() => this.CONSUME(Comma));
  });

  public block = this.RULE("block", () => {
    this.CONSUME(LBrace);
    this.MANY(() => this.SUBRULE(this.entry));
    this.CONSUME(RBrace);
  });

  public value = this.RULE("value", () => {
    this.OR([
      { ALT: () => this.CONSUME(StringLiteral) },
      { ALT: () => this.CONSUME(NumberLiteral) },
      { ALT: () => this.CONSUME(Identifier) },
      { ALT: () => this.SUBRULE(this.list) },
    ]);
  });

  public list = this.RULE("list", () => {
    this.CONSUME(LBracket);
    this.MANY(() => {
      this.SUBRULE(this.value);
      this.OPTION(() => this.CONSUME(Comma));
    });
    this.CONSUME(RBracket);
  });
}

export class TooManySyntaxErrors extends Error {}

// SAVE_ERROR is Chevrotain's (untyped) hook through which every recognition error passes.
type SaveError = (this: MdrParser, error: Error) => Error;
const proto = CstParser.prototype as unknown as { SAVE_ERROR: SaveError };
const saveError = proto.SAVE_ERROR;
(MdrParser.prototype as unknown as { SAVE_ERROR: SaveError }).SAVE_ERROR = function (error) {
  if (this.errors.length >= this.maxErrors) throw new TooManySyntaxErrors();
  return saveError.call(this, error);
};

/** One parser instance is reused: Chevrotain's self-analysis is the expensive part. */
export const mdrParser = new MdrParser();

export type { CstNode, IToken };
