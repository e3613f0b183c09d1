import assert from "node:assert/strict";
import { test } from "node:test";
import { diagnosticCodes } from "../../src/diagnostics/codes.js";
import { positionAt } from "../../src/diagnostics/source.js";
import { cesaaArch, compileText, withArchitecture } from "../helpers/specs.js";

const mmoe = `
  experts e { count: 3, layers: [16] }
  gate g { pools: [e] }
  tower head { input: g }
`;

/** [code, spec text, file name, text the diagnostic must point at]: one row per diagnostic code. */
const cases: [string, string, string, string][] = [
  ["MDR101", withArchitecture(cesaaArch.replace("count: 2,", "count: 2, @")), "a.mdr", "@"],
  ["MDR102", withArchitecture(cesaaArch, `  label: "lab`), "a.mdr", `"lab`],
  ["MDR103", withArchitecture(cesaaArch, `  label "x"`), "a.mdr", `"x"`],
  ["MDR104", withArchitecture(cesaaArch).trimEnd().slice(0, -1), "a.mdr", ""],
  ["MDR105", `{ "model": }`, "a.json", "}"],
  ["MDR106", withArchitecture(cesaaArch.replace("count: 4", "count: 1e999")), "a.mdr", "1e999"],
  ["MDR107", withArchitecture(cesaaArch, `  x: ${"[".repeat(70)}${"]".repeat(70)}`), "a.mdr", "["],
  ["MDR108", `model t {}\n# ${"x".repeat(2 ** 20)}\n`, "a.mdr", ""],
  ["MDR201", "# nothing here\n", "a.mdr", ""],
  ["MDR202", withArchitecture(cesaaArch) + "model u {}\n", "a.mdr", "model"],
  ["MDR203", withArchitecture(cesaaArch.replace("gate router", "gat router")), "a.mdr", "gat"],
  ["MDR204", withArchitecture(cesaaArch.replace("count: 2,", "count: 2, actvation: relu,")), "a.mdr", "actvation"],
  ["MDR205", withArchitecture(cesaaArch.replace("count: 2,", "count: 2, count: 3,")), "a.mdr", "count"],
  ["MDR206", withArchitecture(cesaaArch.replace("count: 2,", `count: "two",`)), "a.mdr", `"two"`],
  ["MDR207", withArchitecture(cesaaArch.replace("layers: [16] }", "layers: [16], activation: relux }")), "a.mdr", "relux"],
  ["MDR208", withArchitecture(cesaaArch.replace("count: 2, layers: [16]", "count: 2")), "a.mdr", "experts"],
  ["MDR209", withArchitecture(cesaaArch.replace("count: 2,", "count: 0,")), "a.mdr", "0"],
  ["MDR210", withArchitecture(cesaaArch.replace("experts shared {", "experts {")), "a.mdr", "experts"],
  ["MDR301", withArchitecture(cesaaArch.replace("pools: [specific]", "pools: [specifc]")), "a.mdr", "specifc"],
  ["MDR302", withArchitecture(cesaaArch.replace("experts specific", "experts shared")), "a.mdr", "shared"],
  ["MDR303", withArchitecture(cesaaArch).replace("values: [a, b, c]", "values: []"), "a.mdr", "[]"],
  ["MDR304", withArchitecture(cesaaArch).replace("values: [a, b, c]", "values: [a, b, a]"), "a.mdr", "a"],
  ["MDR305", withArchitecture(cesaaArch.replace("k: 2", "k: 5")), "a.mdr", "5"],
  ["MDR306", withArchitecture(mmoe, "  loss { mutual_information: 0.1 }"), "a.mdr", "mutual_information"],
  ["MDR307", withArchitecture(cesaaArch, "  loss { bce: -1 }"), "a.mdr", "-1"],
  ["MDR308", withArchitecture(mmoe.replace("pools: [e]", "pools: [e], k: 2")), "a.mdr", "k"],
  ["MDR309", withArchitecture(mmoe.replace("layers: [16]", "layers: [16], input: g")), "a.mdr", "e"],
  ["MDR310", withArchitecture(mmoe + "  tower second { input: g }\n"), "a.mdr", "second"],
  ["MDR311", withArchitecture(cesaaArch + "  gate other { per: all, pools: [shared] }\n  tower t2 { input: other }\n", "  loss { load_balance: 0.1 }"), "a.mdr", "load_balance"],
  ["MDR312", withArchitecture(cesaaArch.replace("count: 4, layers: [16]", "count: 4, layers: [12]")), "a.mdr", "shared"],
  ["MDR314", withArchitecture(cesaaArch, "  loss { bce: 0 }"), "a.mdr", "0"],
  ["MDR315", withArchitecture(cesaaArch).replace("categorical user { dim: 8 }", "categorical user { dim: 8, hash_buckets: 2000000000 }"), "a.mdr", "2000000000"],
  ["MDR313", withArchitecture(cesaaArch).replace("numeric age {}", "numeric age {}\n    categorical friend { table: user, dim: 4 }"), "a.mdr", "4"],
  ["MDR401", withArchitecture(cesaaArch.replace("k: 2", "k: 4")), "a.mdr", "4"],
  ["MDR402", withArchitecture(cesaaArch + "  experts spare { layers: [4] }\n"), "a.mdr", "spare"],
  ["MDR403", withArchitecture(cesaaArch + "  gate idle { pools: [shared] }\n"), "a.mdr", "idle"],
  ["MDR404", withArchitecture(mmoe.replace("pools: [e]", "pools: [e], renormalize: false")), "a.mdr", "renormalize"],
];

test("every diagnostic code in the table has a case here", () => {
  const covered = new Set(cases.map((c) => c[0]));
  const missing = Object.values(diagnosticCodes).map((c) => c.code).filter((c) => !covered.has(c));
  assert.deepEqual(missing, []);
});

for (const [code, text, file, pointsAt] of cases) {
  test(`${code} is reported and points at ${JSON.stringify(pointsAt)}`, () => {
    const result = compileText(text, file);
    const d = result.diagnostics.find((x) => x.code === code);
    assert.ok(d, `expected ${code}, got ${result.diagnostics.map((x) => `${x.code} ${x.message}`).join("; ") || "nothing"}`);
    assert.equal(d.severity, code >= "MDR400" ? "warning" : "error");
    assert.ok(d.message.endsWith(".") || d.message.endsWith("?"), `message is a sentence: ${d.message}`);
    assert.ok(d.span, "has a span");
    assert.equal(text.slice(d.span.start, d.span.end), pointsAt);
    const pos = positionAt(d.span.file, d.span.start);
    assert.ok(pos.line >= 1 && pos.column >= 1);
    if (code !== "MDR201" && code !== "MDR104") assert.ok(d.hint && d.hint.length > 0, "has a fix hint");
    if (code < "MDR400") assert.equal(result.spec, undefined, "errors yield no spec");
  });
}

test("did-you-mean names the close candidate", () => {
  const r = compileText(withArchitecture(cesaaArch.replace("pools: [specific]", "pools: [specifc]")));
  assert.equal(r.diagnostics[0].hint, "Did you mean 'specific'?");
  const p = compileText(withArchitecture(cesaaArch.replace("count: 2,", "count: 2, actvation: relu,")));
  assert.equal(p.diagnostics[0].hint, "Did you mean 'activation'?");
  const s = compileText(withArchitecture(cesaaArch.replace("gate router", "gat router")));
  assert.equal(s.diagnostics[0].hint, "Did you mean 'gate'?");
});

test("one run reports every syntax error", () => {
  const text = withArchitecture(cesaaArch.replace("count: 2,", "count: 2, @").replace("k: 2", "k: 2 $"), `  label "x"`);
  const r = compileText(text);
  assert.ok(r.diagnostics.filter((d) => d.code === "MDR101").length >= 2);
  assert.ok(r.diagnostics.some((d) => d.code === "MDR103"));
});

test("semantic checks report several errors at once", () => {
  const text = withArchitecture(cesaaArch.replace("k: 2", "k: 9").replace("pools: [specific]", "pools: [specific, nope]"), "  loss { bce: -2 }");
  const found = new Set(compileText(text).diagnostics.map((d) => d.code));
  assert.ok(found.has("MDR301") && found.has("MDR307"), [...found].join(","));
});

test("a clean spec has no diagnostics", () => {
  const r = compileText(withArchitecture(cesaaArch));
  assert.deepEqual(r.diagnostics, []);
  assert.ok(r.spec);
});
