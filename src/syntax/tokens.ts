import { createToken, Lexer, type TokenType } from "chevrotain";

// `#` comments, as in the Python and YAML configs recommender engineers already write.
export const Comment = createToken({ name: "Comment", pattern: /#[^\n\r]*/, group: "comments" });
export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\uFEFF]+/, group: Lexer.SKIPPED, line_breaks: true });
export const LBrace = createToken({ name: "LBrace", pattern: /{/, label: "'{'" });
export const RBrace = createToken({ name: "RBrace", pattern: /}/, label: "'}'" });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: "RBracket", pattern: /]/, label: "']'" });
export const Colon = createToken({ name: "Colon", pattern: /:/, label: "':'" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "','" });
export const StringLiteral = createToken({ name: "StringLiteral", pattern: /"[^"\\\n\r]*(?:\\.[^"\\\n\r]*)*"/, label: "a string" });
// Matches only when StringLiteral did not: the parser accepts it as a string so one missing quote
// does not cascade into a page of errors; the lexing stage reports it.
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"[^"\\\n\r]*(?:\\.[^"\\\n\r]*)*/,
  categories: [StringLiteral],
  label: "a string",
});
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/,
  label: "a number",
});
// Hyphens are allowed inside names so domain values such as Film-Noir need no quotes.
export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_-]*/, label: "a name" });

export const allTokens: TokenType[] = [
  WhiteSpace, Comment, LBrace, RBrace, LBracket, RBracket, Colon, Comma,
  StringLiteral, UnterminatedString, NumberLiteral, Identifier,
];

export const mdrLexer = new Lexer(allTokens, { positionTracking: "full", ensureOptimizations: false });
