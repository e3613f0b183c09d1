import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { withReference } from "../../src/cli/docs-script.js";
import { grammarDiagramsHtml } from "../../src/syntax/diagrams.js";
import { mdrParser } from "../../src/syntax/parser.js";
import { root } from "../helpers/specs.js";

test("grammar/diagrams.html is generated from the current parser (run `npm run docs` after grammar changes)", () => {
  const html = grammarDiagramsHtml();
  for (const rule of Object.keys(mdrParser.getGAstProductions())) assert.ok(html.includes(`>${rule}<`), `diagram of ${rule}`);
  assert.doesNotMatch(html, /<script src=|https?:\/\/unpkg/, "self-contained");
  assert.equal(readFileSync(`${root}grammar/diagrams.html`, "utf8"), html);
});

test("grammar/README.md reference tables match the schema (run `npm run docs` after schema changes)", () => {
  const readme = readFileSync(`${root}grammar/README.md`, "utf8");
  assert.equal(withReference(readme), readme);
  assert.match(readme, /\| `k` \| integer \| — \|/);
});

test("the TextMate grammar is valid and highlights every section keyword", () => {
  const tm = JSON.parse(readFileSync(`${root}grammar/mdr.tmLanguage.json`, "utf8"));
  assert.equal(tm.scopeName, "source.mdr");
  const header = new RegExp(tm.repository["block-header"].match);
  for (const kw of ["model m", "domain d", "features", "experts e", "gate g", "star s", "tower t", "loss", "train", "categorical c", "multi_categorical c", "numeric n", "early_stopping"]) {
    assert.ok(header.test(`${kw} {`), kw);
  }
  assert.ok(new RegExp(tm.repository.comment.match).test("# hi"));
  assert.ok(new RegExp(tm.repository.property.match).test("dim: 16"));
});

test("TextMate grammar: digits inside names (crime2, top-10) stay part of the name; numbers stay numbers", () => {
  const tm = JSON.parse(readFileSync(`${root}grammar/mdr.tmLanguage.json`, "utf8"));
  const patterns = (tm.repository.value.patterns as { name: string; match?: string }[]).filter((p) => p.match);
  // As a TextMate engine does: at each position the earliest match wins, ties to the first pattern.
  const scopes = (line: string) => {
    const out: [string, string][] = [];
    for (let i = 0; i < line.length;) {
      let best: { at: number; text: string; name: string } | undefined;
      for (const p of patterns) {
        const re = new RegExp(p.match!, "g");
        re.lastIndex = i;
        const m = re.exec(line);
        if (m && m[0] && (!best || m.index < best.at)) best = { at: m.index, text: m[0], name: p.name };
      }
      if (!best) break;
      out.push([best.text, best.name]);
      i = best.at + best.text.length;
    }
    return out;
  };
  const tokens = scopes("[crime2, top-10, 3, -1.5e3, sum]");
  const numbers = tokens.filter(([, n]) => n.startsWith("constant.numeric")).map(([t]) => t);
  assert.deepEqual(numbers, ["3", "-1.5e3"]);
  assert.ok(tokens.some(([t, n]) => t === "crime2" && !n.startsWith("constant.numeric")));
  assert.ok(tokens.some(([t, n]) => t === "top-10" && !n.startsWith("constant.numeric")));
  assert.ok(tokens.some(([t, n]) => t === "sum" && n.startsWith("support.constant")));
});
