import assert from "node:assert/strict";
import { test } from "node:test";
import { createSourceFile, positionAt } from "../../src/diagnostics/source.js";
import { parse } from "../../src/syntax/parse.js";

const diagnose = (text: string) => {
  const file = createSourceFile("p.mdr", text);
  return parse(file).diagnostics.map((d) => {
    const p = positionAt(file, d.span!.start);
    return `${d.code} ${p.line}:${p.column} ${d.message}`;
  });
};

/** [source, expected diagnostics as "code line:col message"]. */
const table: [string, string[]][] = [
  ["model m { label: \"x\" }", []],
  ["model m {\n  a: [1, 2,]\n  b { c: 1 }\n}", []],
  ["model m {\n  label \"x\"\n}", ["MDR103 2:9 Expected ':' or a name or '{' but found '\"x\"'."]],
  ["model m {\n  a: [1, 2\n}", ["MDR103 3:1 Expected ']' but found '}'."]],
  ["model m {\n  a: 1\n", ["MDR104 2:7 Expected '}' but found the end of the file."]],
  ["model m { a: \"open\n}", ["MDR102 1:14 This string has no closing quote."]],
  ["model m { a: 1 ; }", ["MDR101 1:16 Unexpected character ';'."]],
];

for (const [source, expected] of table) {
  test(`parse ${JSON.stringify(source)}`, () => {
    assert.deepEqual(diagnose(source), expected);
  });
}

test("the AST keeps spans of keys, names and values", () => {
  const text = "model m {\n  experts shared { count: 2 }\n}";
  const { document } = parse(createSourceFile("p.mdr", text));
  const model = document.entries[0];
  assert.equal(model.kind, "block");
  if (model.kind !== "block") return;
  const pool = model.entries[0];
  assert.equal(pool.kind === "block" && text.slice(pool.name!.span.start, pool.name!.span.end), "shared");
  const count = pool.kind === "block" ? pool.entries[0] : undefined;
  assert.equal(count?.kind === "property" && text.slice(count.value!.span.start, count.value!.span.end), "2");
});
