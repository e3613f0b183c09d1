import assert from "node:assert/strict";
import { test } from "node:test";
import { diagnosticCodes } from "../../src/diagnostics/codes.js";
import { formatText } from "../../src/diagnostics/format.js";
import { createSourceFile, positionAt } from "../../src/diagnostics/source.js";
import { compileSpecSource } from "../../src/compiler/frontend.js";
import { mdrLexer } from "../../src/syntax/tokens.js";
import { exampleNames, readExample } from "../helpers/specs.js";

/** Small seeded PRNG so a failure reproduces from its iteration number. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const knownCodes = new Set(Object.values(diagnosticCodes).map((c) => c.code));

function mutate(text: string, rnd: () => number): string {
  const tokens = mdrLexer.tokenize(text).tokens;
  const pick = () => tokens[Math.floor(rnd() * tokens.length)];
  const splice = (start: number, end: number, insert: string) => text.slice(0, start) + insert + text.slice(end);
  switch (Math.floor(rnd() * 5)) {
    case 0: { // delete a token
      const t = pick();
      return splice(t.startOffset, t.endOffset! + 1, "");
    }
    case 1: { // duplicate a token
      const t = pick();
      return splice(t.startOffset, t.startOffset, t.image + " ");
    }
    case 2: { // swap two tokens
      const a = pick();
      const b = pick();
      const [x, y] = a.startOffset < b.startOffset ? [a, b] : [b, a];
      if (x === y) return text;
      return text.slice(0, x.startOffset) + y.image + text.slice(x.endOffset! + 1, y.startOffset) + x.image + text.slice(y.endOffset! + 1);
    }
    case 3: { // random bytes, including invalid UTF-16 halves and control characters
      const at = Math.floor(rnd() * text.length);
      let junk = "";
      for (let i = 0, n = 1 + Math.floor(rnd() * 4); i < n; i++) junk += String.fromCharCode(Math.floor(rnd() * 0xffff));
      return splice(at, at, junk);
    }
    default: { // replace a token with one from elsewhere
      const t = pick();
      return splice(t.startOffset, t.endOffset! + 1, pick().image);
    }
  }
}

function checkDiagnostics(path: string, text: string, iteration: number): number {
  const file = createSourceFile(path, text);
  let result;
  try {
    result = compileSpecSource(file);
  } catch (e) {
    assert.fail(`iteration ${iteration} threw ${(e as Error).stack}\n--- input ---\n${text}`);
  }
  for (const d of result.diagnostics) {
    assert.ok(knownCodes.has(d.code), `unknown code ${d.code}`);
    assert.ok(d.span, `iteration ${iteration}: ${d.code} without a span`);
    assert.ok(d.span.start >= 0 && d.span.start <= d.span.end && d.span.end <= text.length, `iteration ${iteration}: bad span ${d.span.start}-${d.span.end} of ${text.length} for ${d.code}`);
    const p = positionAt(file, d.span.start);
    assert.ok(p.line >= 1 && p.line <= file.lineStarts.length && p.column >= 1);
    assert.ok(d.message.length > 0);
    formatText(d); // the code frame must render for every position
  }
  return result.diagnostics.length;
}

test("5,000 random mutations of the examples give positioned diagnostics, never an exception", () => {
  const rnd = mulberry32(20261128);
  const sources = exampleNames.map(readExample);
  let withDiagnostics = 0;
  const N = 5000;
  for (let i = 0; i < N; i++) {
    let text = sources[i % sources.length];
    for (let m = 0, n = 1 + Math.floor(rnd() * 3); m < n; m++) text = mutate(text, rnd);
    if (checkDiagnostics(`fuzz${i}.mdr`, text, i) > 0) withDiagnostics++;
  }
  // Most mutations break something; if none did, the mutator is not mutating.
  assert.ok(withDiagnostics > N * 0.5, `only ${withDiagnostics} of ${N} mutations produced diagnostics`);
});

test("1,000 random mutations of canonical JSON specs never throw", () => {
  const rnd = mulberry32(7);
  const jsons = exampleNames.map((n) => JSON.stringify(compileSpecSource(createSourceFile(`${n}.mdr`, readExample(n))).spec, null, 1));
  for (let i = 0; i < 1000; i++) {
    const src = jsons[i % jsons.length];
    const at = Math.floor(rnd() * src.length);
    const len = Math.floor(rnd() * 6);
    const junk = [",", "}", "]", "\"", "0", "-1", "null", "true", "x", ""][Math.floor(rnd() * 10)];
    checkDiagnostics(`fuzz${i}.json`, src.slice(0, at) + junk + src.slice(at + len), i);
  }
});

test("hostile depth and size: deep nesting, huge literals, pages of garbage and absurd sizes end in diagnostics, fast", () => {
  const rnd = mulberry32(11);
  const model = (body: string) => `model t {\n  domain d { values: [a, b] }\n  features { categorical user { dim: 4 } }\n  tower head { input: features, layers: [4] }\n${body}\n}\n`;
  const cases: [string, string, string][] = [
    ["500 nested blocks", `model t { ${"a { ".repeat(500)}${"}".repeat(501)}`, "MDR107"],
    ["1,000 nested lists", model(`  x: ${"[".repeat(1000)}${"]".repeat(1000)}`), "MDR107"],
    ["a 10 MB string", model(`  label: "${"a".repeat(10_000_000)}"`), "MDR108"],
    ["a 900 kB string", model(`  labl: "${"a".repeat(900_000)}"`), "MDR203"],
    ["200,000 lines of garbage", Array.from({ length: 200_000 }, () => Array.from({ length: 20 }, () => "ab{}[]:,\"# 1"[Math.floor(rnd() * 12)]).join("")).join("\n"), "MDR108"],
    ["40,000 lines of name-and-colon garbage", Array.from({ length: 40_000 }, () => Array.from({ length: 20 }, () => "abc:, 1"[Math.floor(rnd() * 7)]).join("")).join("\n"), "MDR108"],
    ["dim: 1e9", model("").replace("dim: 4", "dim: 1000000000"), "MDR209"],
    ["count: 1e9", model("  experts e { count: 1000000000, layers: [4] }"), "MDR209"],
    ["layers: [1e9, 32]", model("").replace("layers: [4]", "layers: [1000000000, 32]"), "MDR209"],
    ["range: [0, 1e9]", model("").replace("dim: 4", "dim: 4, range: [0, 1000000000]"), "MDR315"],
    ["hash_buckets: 1e12", model("").replace("dim: 4", "dim: 4, hash_buckets: 1000000000000"), "MDR209"],
    ["1,000 experts of 60,000 × 60,000", model("  experts e { count: 1000, layers: [60000, 60000] }\n  gate g { pools: [e] }").replace("input: features", "input: g"), "MDR315"],
    ["100,000 domain values", model("").replace("values: [a, b]", `values: [${Array.from({ length: 100_000 }, (_, i) => `v${i}`).join(", ")}]`), "MDR209"],
    ["20,000 bucket boundaries", model("").replace("categorical user { dim: 4 }", `numeric n { transform: bucketize, boundaries: [${Array.from({ length: 20_000 }, (_, i) => i).join(", ")}] }`), "MDR209"],
  ];
  for (const [what, text, code] of cases) {
    const t0 = performance.now();
    const r = compileSpecSource(createSourceFile("hostile.mdr", text));
    const ms = performance.now() - t0;
    assert.ok(r.diagnostics.some((d) => d.code === code), `${what}: expected ${code}, got ${r.diagnostics.slice(0, 3).map((d) => `${d.code} ${d.message}`).join("; ")}`);
    assert.ok(ms < 10_000, `${what} took ${Math.round(ms)} ms`);
    assert.ok(r.diagnostics.length <= 102, `${what}: ${r.diagnostics.length} diagnostics`);
    for (const d of r.diagnostics) assert.ok(formatText(d).length < 5_000, `${what}: a short code frame`);
  }
});
