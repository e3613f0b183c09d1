import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { assertNoStack, mdr } from "../helpers/cli.js";
import ort from "onnxruntime-node";
import { compileInference } from "../../src/compiler/inference.js";
import { compileText, examplePath, root } from "../helpers/specs.js";
import { readFileSync as read } from "node:fs";
import { joinParts, partsLength } from "../../src/onnx/emit.js";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

const dir = mkdtempSync(join(tmpdir(), "mdr-compile-"));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const noStack = assertNoStack;

const header = "userId,movieId,genres,year,movie_count,hour,weekday,domain,label";
const rows = [
  "1,10,Action|Comedy,1995,3,12,1,action,1",
  '2,"20",Drama,2001,0,23,6,drama,0',
  "3,99999,,,,,,other,1",
  "4,10,Sci-Fi,1999,5,1,0,comedy,0",
];

test("compile writes model.onnx and manifest.json whose inputs, outputs and opset match the model (golden)", async () => {
  const out = join(dir, "cesaa");
  const r = mdr("compile", examplePath("cesaa"), "-o", out);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(readdirSync(out).sort(), ["checkpoint.safetensors", "manifest.json", "model.onnx", "train_step.json", "train_step.onnx"]);
  const signature = JSON.parse(readFileSync(join(out, "train_step.json"), "utf8"));
  assert.deepEqual(signature.lossTerms, ["bce", "mutual_information", "load_balance"]);
  assert.deepEqual(signature.slots, ["adam_m", "adam_v"]);
  const trainSession = await ort.InferenceSession.create(join(out, "train_step.onnx"));
  assert.ok(trainSession.outputNames.includes("loss.mutual_information"));
  assert.ok(trainSession.inputNames.includes("embedding.user.table") && trainSession.inputNames.includes("touched.user") && trainSession.inputNames.includes("index.genres"));
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  assert.equal(manifest.opset, 17);
  assert.deepEqual(manifest.inputs.map((i: { name: string; dtype: string; shape: unknown[] }) => [i.name, i.dtype, i.shape.join("×")]), [
    ["userId", "string", "N"], ["movieId", "string", "N"], ["genres", "string", "N×L_genres"], ["year", "float32", "N"],
    ["movie_count", "float32", "N"], ["hour", "float32", "N"], ["weekday", "int64", "N"], ["domain", "string", "N"],
  ]);
  assert.deepEqual(manifest.outputs.map((o: { name: string }) => o.name), ["probability", "logit"]);
  assert.equal(manifest.domain.values.length, 6);
  assert.equal(manifest.dispatch.router, "sparse");
  const session = await ort.InferenceSession.create(join(out, "model.onnx"));
  assert.deepEqual([...session.inputNames], manifest.inputs.map((i: { name: string }) => i.name));
  assert.deepEqual([...session.outputNames], ["probability", "logit"]);
  // The opset is in the file itself, not only in the manifest.
  assert.ok(readFileSync(join(out, "model.onnx")).includes(Buffer.from("ai.onnx.ml")));
});

test("same spec and seed give byte-identical files; another seed changes the weights", () => {
  const text = read(examplePath("cesaa"), "utf8");
  const spec = compileText(text).spec!;
  const a = joinParts(compileInference(spec).files["model.onnx"]);
  const b = joinParts(compileInference(compileText(text).spec!).files["model.onnx"]);
  assert.ok(Buffer.from(a).equals(Buffer.from(b)));
  const c = joinParts(compileInference(compileText(text.replace("seed: 42", "seed: 43")).spec!).files["model.onnx"]);
  assert.ok(!Buffer.from(a).equals(Buffer.from(c)));
});

test("--debug-outputs adds router probabilities and selected experts", async () => {
  const out = join(dir, "debug");
  assert.equal(mdr("compile", examplePath("cesaa"), "-o", out, "--debug-outputs").code, 0);
  const session = await ort.InferenceSession.create(join(out, "model.onnx"));
  assert.deepEqual([...session.outputNames], ["probability", "logit", "debug.router.probabilities", "debug.router.selected"]);
});

test("compile refuses a spec with errors and writes nothing", () => {
  const out = join(dir, "never");
  const bad = write("bad.mdr", read(examplePath("cesaa"), "utf8").replace("k: 2", "k: 20"));
  const r = mdr("compile", bad, "-o", out);
  assert.equal(r.code, 1);
  assert.match(r.err, /MDR305/);
  assert.equal(existsSync(out), false);
});

test("predict scores CSV and JSON Lines, keeps id columns, OOV and missing values score", () => {
  const model = join(dir, "cesaa");
  if (!existsSync(model)) assert.equal(mdr("compile", examplePath("cesaa"), "-o", model).code, 0);
  // A byte-order mark and CRLF line ends, as spreadsheet exports write them.
  const csv = write("in.csv", "\uFEFF" + [header, ...rows].join("\r\n") + "\r\n");
  const out = join(dir, "pred.csv");
  const r = mdr("predict", model, "--data", csv, "-o", out, "--keep", "userId,movieId", "--batch-size", "3");
  assert.equal(r.code, 0, r.err);
  const lines = readFileSync(out, "utf8").trim().split("\n");
  assert.equal(lines[0], "userId,movieId,probability");
  assert.equal(lines.length, 5);
  for (const l of lines.slice(1)) {
    const p = Number(l.split(",")[2]);
    assert.ok(Number.isFinite(p) && p >= 0 && p <= 1, l);
  }
  const jsonl = write("in.jsonl", rows.map((l) => {
    const v = l.replace(/"/g, "").split(",");
    return JSON.stringify({ userId: v[0], movieId: Number(v[1]), genres: v[2], year: v[3] === "" ? null : Number(v[3]), movie_count: Number(v[4]), hour: Number(v[5]), weekday: Number(v[6] || 0), domain: v[7] });
  }).join("\n"));
  const out2 = join(dir, "pred2.csv");
  assert.equal(mdr("predict", model, "--data", jsonl, "-o", out2).code, 0);
  assert.equal(readFileSync(out2, "utf8").trim().split("\n").length, 5);
});

test("predict: bad data is reported as file:line:column, exit 1, and no output file is left", () => {
  const model = join(dir, "cesaa");
  if (!existsSync(model)) assert.equal(mdr("compile", examplePath("cesaa"), "-o", model).code, 0);
  const cases: [string, string, RegExp][] = [
    ["missing.csv", "userId,movieId,genres,year,hour,weekday,domain\n1,2,x,1,2,3,action\n", /missing\.csv:1: missing column 'movie_count'/],
    ["badnum.csv", [header, rows[0], "5,6,Drama,nineteen,1,1,1,drama,1"].join("\n"), /badnum\.csv:3:4: 'year' must be a number, got "nineteen"/],
    ["badint.csv", [header, "5,6,Drama,1999,1,1,1.5,drama,1"].join("\n"), /badint\.csv:2:7: 'weekday' must be a whole number/],
    ["ragged.csv", [header, rows[0], "1,2,3"].join("\n"), /ragged\.csv:3: row has 3 fields but the header has 9/],
    ["empty.csv", "", /empty\.csv:1: the file is empty/],
    ["quote.csv", [header, '1,"10,Action,1995,3,12,1,action,1'].join("\n"), /quote\.csv:\d+: /],
  ];
  for (const [name, text, pattern] of cases) {
    const out = join(dir, `${name}.out.csv`);
    const r = mdr("predict", model, "--data", write(name, text), "-o", out);
    assert.equal(r.code, 1, `${name}: ${r.err}`);
    assert.match(r.err, pattern);
    noStack(r.err);
    assert.equal(existsSync(out), false, `${name}: no output`);
  }
  assert.ok(!readdirSync(dir).some((f) => f.endsWith(".tmp")), "no temporary files left");
});

test("predict: an undeclared domain value follows the spec's policy", () => {
  const strict = write("strict.mdr", read(examplePath("cesaa"), "utf8").replace("unknown: fallback\n    fallback: other", "unknown: error"));
  const model = join(dir, "strict");
  assert.equal(mdr("compile", strict, "-o", model).code, 0);
  const data = write("unknown.csv", [header, rows[0], "1,10,Action,1995,3,12,1,western,1"].join("\n"));
  const r = mdr("predict", model, "--data", data, "-o", join(dir, "u.csv"));
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown\.csv:3:8: domain value 'western' is not one of action, comedy/);
  const skip = write("skip.mdr", read(examplePath("cesaa"), "utf8").replace("unknown: fallback\n    fallback: other", "unknown: skip"));
  assert.equal(mdr("compile", skip, "-o", join(dir, "skip")).code, 0);
  const s = mdr("predict", join(dir, "skip"), "--data", data, "-o", join(dir, "s.csv"));
  assert.equal(s.code, 0, s.err);
  assert.match(s.err, /skipped 1 rows/);
  assert.equal(readFileSync(join(dir, "s.csv"), "utf8").trim().split("\n").length, 2);
});

test("--ep cuda fails fast with install instructions when the CUDA binaries are absent", () => {
  const model = join(dir, "cesaa");
  if (!existsSync(model)) assert.equal(mdr("compile", examplePath("cesaa"), "-o", model).code, 0);
  const csv = write("one.csv", [header, rows[0]].join("\n"));
  const r = mdr("predict", model, "--data", csv, "-o", join(dir, "cuda.csv"), "--ep", "cuda");
  const installed = existsSync(join(root, "node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so"));
  if (installed) return; // a machine with the CUDA provider: nothing to check here
  assert.equal(r.code, 2);
  assert.match(r.err, /CUDA execution provider is not installed.*--onnxruntime-node-install=cuda12/);
  noStack(r.err);
});

test("the opset-20 model splits multi-valued cells in the graph (raw strings in)", async () => {
  const spec = compileText(read(examplePath("cesaa"), "utf8")).spec!;
  const { files, manifest } = compileInference(spec, { opset: 20 });
  const genres = manifest.inputs.find((i) => i.name === "genres")!;
  assert.deepEqual(genres.shape, ["N"]);
  assert.equal(genres.split_by, undefined);
  const session = await ort.InferenceSession.create(Buffer.from(joinParts(files["model.onnx"])));
  assert.ok(session.inputNames.includes("genres"));
});

test("models whose tensors exceed the limit use ONNX external data, and load", async () => {
  const spec = compileText(read(examplePath("cesaa"), "utf8")).spec!;
  const { files, manifest } = compileInference(spec, { externalDataAbove: 10_000 });
  assert.ok(files["model.onnx.data"], "external data file");
  assert.equal(manifest.files.external_data, "model.onnx.data");
  const sub = join(dir, "external");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, "model.onnx"), joinParts(files["model.onnx"]));
  writeFileSync(join(sub, "model.onnx.data"), joinParts(files["model.onnx.data"]));
  const inline = compileInference(spec).files["model.onnx"];
  assert.ok(partsLength(files["model.onnx"]) < partsLength(inline) / 2);
  const session = await ort.InferenceSession.create(join(sub, "model.onnx"));
  assert.deepEqual([...session.outputNames], ["probability", "logit"]);
});

test("a model written in pieces is byte for byte protobuf's own encoding, its large tables views of the weights", () => {
  const spec = compileText(read(join(root, "bench/specs/cesaa_small.mdr"), "utf8")).spec!;
  const plain = compileInference(spec);
  const bytes = joinParts(plain.files["model.onnx"]);
  assert.ok(plain.files["model.onnx"].length > 10, "large tensors are pieces of their own");
  const again = onnx.ModelProto.encode(onnx.ModelProto.decode(bytes)).finish();
  assert.ok(Buffer.from(again).equals(Buffer.from(bytes)), "re-encoding the decoded model gives the same bytes");
  // The pieces hold the trained values themselves, not copies.
  const w = new Float32Array(5001 * 16).map((_, i) => i / 7); // 5,000 ids and the out-of-range row
  const trained = compileInference(spec, { weights: new Map([["embedding.c2.table", w]]) });
  assert.ok(trained.files["model.onnx"].some((p) => p.buffer === w.buffer), "the table's piece is a view of its array");
  const init = onnx.ModelProto.decode(joinParts(trained.files["model.onnx"])).graph!.initializer!.find((t) => t.name === "embedding.c2.table")!;
  assert.deepEqual(new Float32Array(Uint8Array.from(init.rawData!).buffer), w);
});
