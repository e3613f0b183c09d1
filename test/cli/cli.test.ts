import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { assertNoStack, mdr } from "../helpers/cli.js";
import { cesaaArch, examplePath, root, withArchitecture } from "../helpers/specs.js";

const dir = mkdtempSync(join(tmpdir(), "mdr-cli-"));
const write = (name: string, text: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const clean = write("clean.mdr", withArchitecture(cesaaArch));
const broken = write("broken.mdr", withArchitecture(cesaaArch.replace("k: 2", "k: 9")));
const warned = write("warned.mdr", withArchitecture(cesaaArch.replace("k: 2", "k: 4")));

const noStack = assertNoStack;

test("validate: exit 0 on clean specs, globs expanded", () => {
  const r = mdr("validate", "examples/movielens/*.mdr");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /5 specs checked: 0 errors, 0 warnings/);
  // What each model would cost: CESAA's 2 shared + 8 routed experts, router, 6 towers; the user and movie tables come from data.
  assert.match(r.out, /cesaa\.mdr: model movielens_cesaa, [\d,]+ parameters \+ \d tables sized by the training data; [\d.]+ [KM]iB of weights, [\d.]+ [KM]iB to train with adam/);
});

test("validate: exit 1 with a code frame, caret and hint on errors", () => {
  const r = mdr("validate", clean, broken);
  assert.equal(r.code, 1);
  assert.match(r.err, /error\[MDR305\]: k is 9 but gate 'router' chooses among 4 experts\./);
  assert.match(r.err, new RegExp(`--> ${broken.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+`));
  assert.match(r.err, /\|\s+\^/);
  assert.match(r.err, /= help: Use 1 ≤ k ≤ 4\./);
  noStack(r.err);
});

test("validate: warnings pass, and fail only with --strict", () => {
  assert.equal(mdr("validate", warned).code, 0);
  assert.equal(mdr("validate", "--strict", warned).code, 1);
});

test("validate: exit 2 on usage and I/O errors, with one line and no stack", () => {
  const missing = mdr("validate", join(dir, "nope.mdr"));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /^mdr: error: cannot read .*nope\.mdr: no such file\n$/);
  const latin1 = mdr("validate", write("latin1.mdr", Buffer.from([0x6d, 0x6f, 0xe9, 0x0a])));
  assert.equal(latin1.code, 2);
  assert.match(latin1.err, /not UTF-8/);
  assert.equal(mdr("validate", "--format", "xml", clean).code, 2);
  assert.equal(mdr("validate", join(dir, "*.nothing")).code, 2);
  assert.equal(mdr("validate", dir).code, 2);
  noStack(missing.err + latin1.err);
});

test("validate --format github prints workflow annotations", () => {
  const r = mdr("validate", "--format", "github", broken);
  assert.equal(r.code, 1);
  assert.match(r.out, /^::error file=.*broken\.mdr,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,title=MDR305 invalid-k::k is 9/m);
});

test("validate --format json is machine-readable", () => {
  const r = mdr("validate", "--format", "json", broken, warned);
  const report = JSON.parse(r.out);
  assert.equal(report.errors, 1);
  assert.equal(report.warnings, 1);
  const d = report.files[0].diagnostics[0];
  assert.equal(d.code, "MDR305");
  assert.equal(d.path, "/gates/0/k");
  assert.ok(d.line > 0 && d.column > 0);
});

test("validate --emit-json prints the canonical spec", () => {
  const r = mdr("validate", "--emit-json", examplePath("cesaa"));
  assert.equal(r.code, 0);
  const spec = JSON.parse(r.out);
  assert.equal(spec.model, "movielens_cesaa");
  assert.equal(spec.gates[0].k, 2);
});

test("fmt --check, --write and plain output", () => {
  const messy = write("messy.mdr", "model m{label:\"y\" # keep me\n}\n");
  const check = mdr("fmt", "--check", messy);
  assert.equal(check.code, 1);
  assert.match(check.out, /messy\.mdr/);
  assert.equal(readFileSync(messy, "utf8"), "model m{label:\"y\" # keep me\n}\n", "--check changes nothing");
  assert.equal(mdr("fmt", messy).out, 'model m {\n  label: "y" # keep me\n}\n');
  assert.equal(mdr("fmt", "--write", messy).code, 0);
  assert.equal(readFileSync(messy, "utf8"), 'model m {\n  label: "y" # keep me\n}\n');
  assert.equal(mdr("fmt", "--check", messy).code, 0);
  assert.equal(mdr("fmt", "--check", "examples/movielens/*.mdr").code, 0);
  assert.ok(!readdirSync(dir).some((f) => f.endsWith(".tmp")), "no temporary files left");
});

test("fmt refuses a file with syntax errors and leaves it untouched", () => {
  const bad = write("bad.mdr", "model m { label: }\n");
  const r = mdr("fmt", "--write", bad);
  assert.equal(r.code, 1);
  assert.match(r.err, /MDR10\d/);
  assert.equal(readFileSync(bad, "utf8"), "model m { label: }\n");
});

test("inspect prints per-domain activated and dense cost", () => {
  const r = mdr("inspect", examplePath("cesaa"));
  assert.equal(r.code, 0, r.err);
  // 2 shared + 2 of 8 routed experts of 50→64→32 (5,248 MACs each), router 58×8, tower 32→32→1.
  assert.match(r.out, /^action\s+22,945\s+22,512\s+54,000\s+2\.40×$/m);
  const j = JSON.parse(mdr("inspect", "--json", examplePath("cesaa")).out);
  assert.equal(j.domains.length, 6);
  assert.equal(j.input_width, 50);
  assert.equal(typeof j.domains[0].activated_macs, "number", "snake_case keys like every other JSON mdr writes");
  const bad = mdr("inspect", broken);
  assert.equal(bad.code, 1);
  noStack(bad.err);
});

test("output piped into a reader that stops early (| head) ends quietly, not with an EPIPE crash", () => {
  // Enough output (2,000 summary lines, well past a pipe's buffer) that writes continue after head exits.
  const many = mkdtempSync(join(tmpdir(), "mdr-many-"));
  const text = readFileSync(examplePath("cesaa"), "utf8");
  for (let i = 0; i < 2000; i++) writeFileSync(join(many, `s${i}.mdr`), text);
  const r = spawnSync("bash", ["-c", `set -o pipefail; node bin/mdr.js validate '${many}/*.mdr' | head -1`], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\/s\d+\.mdr: model movielens_cesaa, /);
  assert.doesNotMatch(r.stderr, /EPIPE|Unhandled/);
});
