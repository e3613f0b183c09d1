// A run that says "ok" can be trusted: each case here is a way a careless or hostile user broke an earlier
// version. Every test asserts the exit code, the message, and that nothing was written or changed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { assertNoStack, mdr } from "../helpers/cli.js";
import { root } from "../helpers/specs.js";

const dir = mkdtempSync(join(tmpdir(), "mdr-trust-"));
const write = (name: string, text: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const spec = write("s.mdr", `model s {
  domain d { column: "domain", values: [news, video, shop] }
  features {
    categorical user { dim: 4 }
    categorical slot { range: [0, 9], dim: 2 }
    multi_categorical tags { separator: "|", dim: 4 }
    numeric x {}
  }
  experts e { count: 2, layers: [8] }
  gate g { pools: [e] }
  tower head { input: g, layers: [4] }
  train { batch_size: 64, epochs: 2, checkpoint_every: 0 }
}
`);
const header = "user,slot,tags,x,domain,label";
const rowsOf = (n: number, seed = 0) => Array.from({ length: n }, (_, i) => {
  const j = i + seed;
  return `u${j % 20},${j % 10},${["a", "b|c", "a|c", ""][j % 4]},${((j % 7) / 3).toFixed(3)},${["news", "video", "shop"][j % 3]},${(j * 7) % 3 === 0 ? 1 : 0}`;
});
const good = write("good.csv", [header, ...rowsOf(600)].join("\n") + "\n");
const valid = write("valid.csv", [header, ...rowsOf(200, 5)].join("\n") + "\n");

/** A fingerprint of every file under a folder (names and bytes): "unchanged" is checked against it. */
function snapshot(path: string): string {
  if (!existsSync(path)) return "absent";
  const h = createHash("sha256");
  const walk = (p: string) => {
    for (const f of readdirSync(p).sort()) {
      const q = join(p, f);
      h.update(q);
      if (statSync(q).isDirectory()) walk(q);
      else h.update(readFileSync(q));
    }
  };
  walk(path);
  return h.digest("hex");
}

function fails(r: ReturnType<typeof mdr>, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.err}`);
  assert.match(r.err, pattern);
  assertNoStack(r.err);
}

let trained: string | undefined;
/** One trained run shared by the model-folder cases. */
function trainedRun(): string {
  if (!trained) {
    trained = join(dir, "trained");
    const r = mdr("train", spec, "--data", good, "--valid", valid, "-o", trained);
    assert.equal(r.code, 0, r.err);
  }
  return trained;
}

// --- silent wrong results ---------------------------------------------------------------------------

test("a non-finite or out-of-float32 numeric value is a data error in training and in serving, never a NaN model", () => {
  for (const bad of ["Infinity", "1e308", "-inf"]) {
    const file = write(`inf-${bad}.csv`, [header, ...rowsOf(50), `u1,1,a,${bad},news,1`].join("\n") + "\n");
    const out = join(dir, `out-inf-${bad}`);
    fails(mdr("train", spec, "--data", file, "-o", out), 1, new RegExp(`inf-${bad}\\.csv:52:4: 'x' is ${bad.replace("+", "\\+")}, outside the range of a 32-bit float`));
    assert.equal(existsSync(out), false);
    const scored = join(dir, `inf-${bad}.out.csv`);
    fails(mdr("predict", trainedRun(), "--data", file, "-o", scored), 1, /outside the range of a 32-bit float/);
    assert.equal(existsSync(scored), false);
  }
});

test("a loss that becomes NaN stops training with the step and the term, and leaves no half-made run", () => {
  const out = join(dir, "diverged");
  fails(mdr("train", spec, "--data", good, "-o", out, "--lr", "1e30"), 1, /training diverged at step \d+: the loss is NaN \(bce = NaN\).*Nothing was saved/);
  assert.equal(existsSync(out), false);
});

test("JSON Lines arrays in a multi-valued field mean the same as separated text: byte-identical models", () => {
  const csvRows = rowsOf(300);
  const jsonl = csvRows.map((line) => {
    const [user, slot, tags, x, domain, label] = line.split(",");
    return JSON.stringify({ user, slot: Number(slot), tags: tags === "" ? [] : tags.split("|"), x: Number(x), domain, label: Number(label) });
  });
  const a = join(dir, "arrays-jsonl");
  const b = join(dir, "arrays-csv");
  assert.equal(mdr("train", spec, "--data", write("arrays.jsonl", jsonl.join("\n") + "\n"), "-o", a, "--epochs", "1").code, 0);
  assert.equal(mdr("train", spec, "--data", write("arrays.csv", [header, ...csvRows].join("\n") + "\n"), "-o", b, "--epochs", "1").code, 0);
  const manifest = JSON.parse(readFileSync(join(a, "manifest.json"), "utf8"));
  assert.equal(manifest.features.find((f: { name: string }) => f.name === "tags").vocabulary, 3, "a, b, c — not 'b,c' or 'a,c'");
  assert.ok(readFileSync(join(a, "model.onnx")).equals(readFileSync(join(b, "model.onnx"))));
});

test("a column named twice in a header, or a key twice in a JSON object, is refused", () => {
  fails(mdr("train", spec, "--data", write("dup.csv", `user,slot,tags,x,domain,label,label\nu1,1,a,0,news,1,0\n`), "-o", join(dir, "o-dup")), 1,
    /dup\.csv:1:7: the header names column 'label' twice \(columns 6 and 7\)/);
  fails(mdr("train", spec, "--data", write("dup.jsonl", `{"user":"u","slot":1,"tags":"a","x":0,"domain":"news","label":1,"label":0}\n`), "-o", join(dir, "o-dupj")), 1,
    /dup\.jsonl:1: the object names 'label' twice/);
  assert.equal(existsSync(join(dir, "o-dup")) || existsSync(join(dir, "o-dupj")), false);
});

test("integer-range ids follow one rule in training and serving: 3.5 and true are errors, a missing id is out of vocabulary", () => {
  for (const [name, row] of [["half", `{"user":"u","slot":3.5,"tags":"a","x":0,"domain":"news","label":1}`], ["bool", `{"user":"u","slot":true,"tags":"a","x":0,"domain":"news","label":1}`]]) {
    const file = write(`range-${name}.jsonl`, row + "\n");
    const message = /must be a whole number \(the feature declares a range\)/;
    fails(mdr("train", spec, "--data", file, "-o", join(dir, `o-range-${name}`)), 1, message);
    fails(mdr("predict", trainedRun(), "--data", file, "-o", join(dir, `range-${name}.out.csv`)), 1, message);
    fails(mdr("eval", trainedRun(), "--data", file), 1, message);
  }
  const missing = write("range-missing.jsonl", `{"user":"u","slot":null,"tags":"a","x":0,"domain":"news","label":0}\n{"user":"u","tags":"a","x":0,"domain":"news","label":1}\n`);
  const out = join(dir, "range-missing.out.csv");
  assert.equal(mdr("predict", trainedRun(), "--data", missing, "-o", out).code, 0);
});

test("a model folder whose model.onnx, manifest or spec do not belong together is refused", async () => {
  const run = trainedRun();
  const other = join(dir, "other-model");
  const otherSpec = write("other.mdr", readFileSync(spec, "utf8").replace("layers: [8]", "layers: [6]"));
  assert.equal(mdr("compile", otherSpec, "-o", other, "--no-train-step").code, 0);
  const mixed = join(dir, "mixed");
  mkdirSync(mixed);
  writeFileSync(join(mixed, "manifest.json"), readFileSync(join(run, "manifest.json")));
  writeFileSync(join(mixed, "model.onnx"), readFileSync(join(other, "model.onnx")));
  fails(mdr("predict", mixed, "--data", good, "-o", join(dir, "mixed.csv")), 2, /model\.onnx does not belong to this manifest/);
  // A manifest whose spec was edited by hand.
  const edited = JSON.parse(readFileSync(join(run, "manifest.json"), "utf8"));
  edited.spec.domain.values = ["news", "video", "sports"];
  const editedDir = join(dir, "edited");
  mkdirSync(editedDir);
  writeFileSync(join(editedDir, "manifest.json"), JSON.stringify(edited));
  writeFileSync(join(editedDir, "model.onnx"), readFileSync(join(run, "model.onnx")));
  fails(mdr("eval", editedDir, "--data", valid), 2, /was edited: its spec does not match its spec_sha256/);
  // Another spec's checkpoint compiled into this spec.
  const out = join(dir, "wrong-ckpt");
  fails(mdr("compile", otherSpec, "-o", out, "--checkpoint", join(run, "checkpoints", "best.safetensors")), 1, /was trained from another model \(experts\.0\.layers\.0: 8 → 6\)/);
  assert.equal(existsSync(out), false);
});

test("a checkpoint whose header was edited fails its checksum like a flipped weight", () => {
  const path = join(trainedRun(), "checkpoints", "best.safetensors");
  const bytes = readFileSync(path);
  const edited = Buffer.from(bytes.toString("latin1").replace(/"step":"(\d+)"/, (_, s: string) => `"step":"${String(Number(s) + 1).padStart(s.length, "0").slice(-s.length)}"`), "latin1");
  assert.notDeepEqual(edited, bytes);
  const file = write("edited.safetensors", edited);
  fails(mdr("compile", spec, "-o", join(dir, "from-edited"), "--checkpoint", file), 1, /fails its checksum \(damaged, edited or partly written\)/);
  // Odd data_offsets: a tensor that does not fit the file.
  const odd = Buffer.from(bytes.toString("latin1").replace(/"data_offsets":\[(\d+),(\d+)\]/, (_, a: string, b: string) => `"data_offsets":[${a},${String(Number(b) - 1).padStart(b.length, " ")}]`), "latin1");
  fails(mdr("compile", spec, "-o", join(dir, "from-odd"), "--checkpoint", write("odd.safetensors", odd)), 1, /is damaged \(dtype, shape or data_offsets do not fit the file\)/);
  assert.equal(existsSync(join(dir, "from-edited")) || existsSync(join(dir, "from-odd")), false);
});

test("--resume with only a damaged checkpoint refuses, says what it found, and changes nothing", () => {
  const out = join(dir, "damaged-resume");
  assert.equal(mdr("train", spec, "--data", good, "-o", out, "--epochs", "1").code, 0);
  const ckpts = readdirSync(join(out, "checkpoints")).filter((f) => f.startsWith("ckpt-"));
  assert.equal(ckpts.length, 1);
  const path = join(out, "checkpoints", ckpts[0]);
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 100));
  const before = snapshot(out);
  fails(mdr("train", spec, "--data", good, "-o", out, "--epochs", "2", "--resume"), 1, /cannot resume: no checkpoint in .* is readable \(.*ckpt-\d+\.safetensors: [^)]*(truncated|damaged)[^)]*\)\); start over with --overwrite/);
  assert.equal(snapshot(out), before);
});

// --- output folders ---------------------------------------------------------------------------------

test("a run folder belongs to one run: a fresh train refuses it, --overwrite replaces it, a foreign folder is never emptied", () => {
  const out = join(dir, "owned");
  assert.equal(mdr("train", spec, "--data", good, "--valid", valid, "-o", out, "--epochs", "1").code, 0);
  const before = snapshot(out);
  fails(mdr("train", spec, "--data", good, "-o", out), 2, /holds an earlier run \(started .*\); continue it with --resume, replace it with --overwrite/);
  assert.equal(snapshot(out), before);
  const r = mdr("train", spec, "--data", good, "-o", out, "--epochs", "1", "--overwrite");
  assert.equal(r.code, 0, r.err);
  assert.equal(existsSync(join(out, "metrics.jsonl")), false, "the earlier run's metrics went with it");
  const foreign = join(dir, "foreign");
  mkdirSync(foreign);
  writeFileSync(join(foreign, "notes.txt"), "mine");
  fails(mdr("train", spec, "--data", good, "-o", foreign, "--overwrite"), 2, /is not empty and holds no mdr run \(notes\.txt\)/);
  assert.equal(readFileSync(join(foreign, "notes.txt"), "utf8"), "mine");
});

test("a second process cannot write into a run folder while one holds its lock; a dead holder's lock is taken over", () => {
  const out = join(dir, "locked");
  mkdirSync(out);
  writeFileSync(join(out, ".lock"), `${process.pid}\n`); // this test process is alive
  fails(mdr("train", spec, "--data", good, "-o", out), 2, new RegExp(`another mdr process \\(pid ${process.pid}\\) is writing to`));
  assert.deepEqual(readdirSync(out), [".lock"]);
  writeFileSync(join(out, ".lock"), "2147483646\n"); // no such process
  const r = mdr("train", spec, "--data", good, "-o", out, "--epochs", "1");
  assert.equal(r.code, 0, r.err);
  assert.equal(existsSync(join(out, ".lock")), false);
});

test("--resume after changing the spec or a flag that shapes the run is refused with the differences", () => {
  const out = join(dir, "resume-changed");
  assert.equal(mdr("train", spec, "--data", good, "-o", out, "--epochs", "1").code, 0);
  const before = snapshot(out);
  fails(mdr("train", spec, "--data", good, "-o", out, "--epochs", "2", "--batch-size", "32", "--resume"), 2, /cannot resume: .*train\.batch_size: 64 → 32/);
  const changed = write("s-changed.mdr", readFileSync(spec, "utf8").replace("layers: [4]", "layers: [5]"));
  fails(mdr("train", changed, "--data", good, "-o", out, "--epochs", "2", "--resume"), 2, /towers\.0\.layers\.0: 4 → 5/);
  assert.equal(snapshot(out), before);
  // More epochs and another learning rate are what resuming is for.
  const r = mdr("train", spec, "--data", good, "-o", out, "--epochs", "2", "--lr", "0.0005", "--resume");
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /resumed from .*ckpt-/);
});

test("a bad value in the --valid file is found before training: no output folder", () => {
  const badValid = write("bad-valid.csv", [header, ...rowsOf(30), "u1,1,a,abc,news,1"].join("\n") + "\n");
  const out = join(dir, "bad-valid-run");
  fails(mdr("train", spec, "--data", good, "--valid", badValid, "-o", out), 1, /bad-valid\.csv:32:4: 'x' must be a number, got "abc"/);
  assert.equal(existsSync(out), false);
});

test("mid-epoch checkpoints every n steps (spec or --checkpoint-every)", () => {
  const out = join(dir, "mid-epoch");
  const r = mdr("train", spec, "--data", good, "-o", out, "--epochs", "1", "--batch-size", "50", "--checkpoint-every", "5");
  assert.equal(r.code, 0, r.err);
  // 12 steps: checkpoints at 5 and 10, then the epoch's end at 12; the two newest are kept.
  assert.deepEqual(readdirSync(join(out, "checkpoints")).sort(), ["best.safetensors", "ckpt-000000010.safetensors", "ckpt-000000012.safetensors"]);
});

test("--eval-every evaluates between steps, prints it, and never writes an epoch's record twice", () => {
  const out = join(dir, "eval-every");
  // 600 rows / 100 = 6 steps an epoch; every 3 steps falls on each epoch's last step.
  const r = mdr("train", spec, "--data", good, "--valid", valid, "-o", out, "--epochs", "2", "--batch-size", "100", "--eval-every", "3");
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /^step 3: train loss \d\.\d{4}, valid auc \d\.\d{4}$/m);
  const records = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; at: string });
  assert.deepEqual(records.map((x) => `${x.at}@${x.step}`), ["step@3", "epoch@6", "step@9", "epoch@12"]);
});

test("predict leaves no temporary file after a data error, and refuses an output that is a folder or unwritable", () => {
  const ragged = write("ragged.csv", [header, ...rowsOf(5000), "u1,1"].join("\n") + "\n");
  for (let i = 0; i < 3; i++) fails(mdr("predict", trainedRun(), "--data", ragged, "-o", join(dir, "ragged.out.csv")), 1, /ragged\.csv:5002: row has 2 fields but the header has 6/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes("ragged.out")), []);
  fails(mdr("predict", trainedRun(), "--data", good, "-o", dir), 2, /is a folder; name the output file/);
  fails(mdr("predict", trainedRun(), "--data", good, "-o", join(good, "x.csv")), 2, /cannot write .*x\.csv: a part of the path is a file/);
});

// --- user mistakes get a message, not a stack -------------------------------------------------------

test("a header-only training file, a missing file and an unsupported format are clear errors", () => {
  fails(mdr("train", spec, "--data", write("header-only.csv", header + "\n"), "-o", join(dir, "o-h")), 1, /header-only\.csv:1: the file has a header but no rows/);
  fails(mdr("eval", trainedRun(), "--data", join(dir, "header-only.csv")), 1, /header-only\.csv:1: the file has no rows to evaluate/);
  // mdr eval checks a CSV file fast first, then scores it without positions: a bad cell still has its place.
  const badEval = write("bad-eval.csv", [header, ...rowsOf(300), "u1,3.5,a,0,news,1", ...rowsOf(5)].join("\n") + "\n");
  fails(mdr("eval", trainedRun(), "--data", badEval), 1, /bad-eval\.csv:302:2: 'slot' must be a whole number/);
  fails(mdr("train", spec, "--data", join(dir, "nope.csv"), "-o", join(dir, "o-n")), 2, /cannot read .*nope\.csv: no such file or folder/);
  fails(mdr("train", spec, "--data", write("sheet.xlsx", "PK"), "-o", join(dir, "o-x")), 2, /'\.xlsx' files are not supported; mdr reads \.csv, \.jsonl \/ \.ndjson and \.parquet/);
  assert.equal(["o-h", "o-n", "o-x"].some((o) => existsSync(join(dir, o))), false);
});

test("a named pipe as training data is refused at once, not waited on", (t) => {
  const pipe = join(dir, "pipe.csv");
  if (spawnSync("mkfifo", [pipe]).status !== 0) return t.skip("mkfifo is not available here");
  // Nothing writes to the pipe: a reader would wait for ever.
  fails(mdr("train", spec, "--data", good, "--valid", pipe, "-o", join(dir, "o-p")), 2, /--valid .*pipe\.csv: training reads its files more than once .* so it cannot read a pipe; give a file/);
  assert.equal(existsSync(join(dir, "o-p")), false);
});

test("-o that is a file, or under a file, is a clear error for train and compile", () => {
  const file = write("a-file", "x");
  fails(mdr("train", spec, "--data", good, "-o", file), 2, /-o .*a-file is a file, not a folder/);
  fails(mdr("compile", spec, "-o", file), 2, /a-file is a file, not a folder/);
  fails(mdr("compile", spec, "-o", join(file, "sub")), 2, /cannot create .*a-file\/sub: a part of the path is a file/);
  fails(mdr("compile", spec, "-o", "-"), 2, /-o - means stdout, and a compiled model is a folder/);
  fails(mdr("train", spec, "--data", good, "-o", "-"), 2, /-o - means stdout, and a run writes a folder/);
  assert.equal(existsSync(join(root, "-")), false);
  assert.equal(readFileSync(file, "utf8"), "x");
});

test("a truncated model.onnx, a manifest with missing fields, or a path outside the folder are refused", () => {
  const run = trainedRun();
  const copy = (name: string, edit: (m: Record<string, unknown>) => void, model = readFileSync(join(run, "model.onnx"))) => {
    const d = join(dir, name);
    mkdirSync(d);
    const m = JSON.parse(readFileSync(join(run, "manifest.json"), "utf8"));
    edit(m);
    writeFileSync(join(d, "manifest.json"), JSON.stringify(m));
    writeFileSync(join(d, "model.onnx"), model);
    return d;
  };
  const whole = readFileSync(join(run, "model.onnx"));
  fails(mdr("predict", copy("truncated", () => {}, whole.subarray(0, whole.length >> 1)), "--data", good, "-o", join(dir, "t.csv")), 2, /does not belong to this manifest/);
  // Without the recorded hash the runtime still refuses the damaged file, as an error rather than a crash.
  fails(mdr("predict", copy("truncated-nohash", (m) => delete (m.files as Record<string, unknown>).model_sha256, whole.subarray(0, whole.length >> 1)), "--data", good, "-o", join(dir, "t.csv")), 2, /cannot load .*model\.onnx: /);
  fails(mdr("eval", copy("no-inputs", (m) => delete m.inputs), "--data", valid), 2, /manifest\.json is incomplete or damaged \(inputs\)/);
  fails(mdr("eval", copy("escape", (m) => ((m.files as Record<string, unknown>).model = "../../../../etc/passwd")), "--data", valid), 2, /names the file "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" outside the model folder/);
  assert.equal(existsSync(join(dir, "t.csv")), false);
});

// --- limits and hangs -------------------------------------------------------------------------------

test("one flipped byte in a Parquet file fails in bounded time instead of hanging", async () => {
  const { parquetWriteBuffer } = await import("hyparquet-writer");
  const n = 3000;
  const rows = Array.from({ length: n }, (_, i) => ({ user: `u${i % 50}`, x: ((i % 13) - 6) / 3, domain: ["news", "video"][i % 2], label: (i * 7) % 3 === 0 ? 1 : 0 }));
  const buffer = Buffer.from(parquetWriteBuffer({
    columnData: [
      { name: "user", data: rows.map((r) => r.user), type: "STRING" },
      { name: "x", data: rows.map((r) => r.x), type: "DOUBLE" },
      { name: "domain", data: rows.map((r) => r.domain), type: "STRING" },
      { name: "label", data: rows.map((r) => r.label), type: "INT32" },
    ],
  }));
  const small = write("pq.mdr", `model p {
  domain d { column: "domain", values: [news, video] }
  features { categorical user { dim: 4 } numeric x {} }
  tower head { per: shared, input: features, layers: [4] }
}
`);
  const good = write("ok.parquet", buffer);
  assert.equal(mdr("train", small, "--data", good, "-o", join(dir, "pq-ok"), "--epochs", "1").code, 0);
  // Byte 248 lies in the first data page's run-length header: the decoder used to spin on it forever.
  const flipped = Buffer.from(buffer);
  flipped[248] ^= 0x80;
  const bad = write("flipped.parquet", flipped);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [`${root}bin/mdr.js`, "train", small, "--data", bad, "-o", join(dir, "pq-bad")], {
    encoding: "utf8", env: { ...process.env, MDR_PARQUET_TIMEOUT_MS: "2000" }, timeout: 60_000,
  });
  assert.ok(Date.now() - t0 < 30_000, "bounded time");
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /flipped\.parquet:1: (row group 1 \(rows 1–1000\) could not be decoded within 2 s|not a readable Parquet file)/);
  assert.equal(existsSync(join(dir, "pq-bad")), false);
});

test("ONNX Runtime writes no debug log in /tmp and no telemetry database in the home folder", () => {
  const home = mkdtempSync(join(tmpdir(), "mdr-home-"));
  const run = trainedRun();
  const started = Date.now();
  const r = spawnSync(process.execPath, [`${root}bin/mdr.js`, "eval", run, "--data", valid], { encoding: "utf8", env: { ...process.env, HOME: home } });
  assert.equal(r.status, 0, r.stderr);
  // A file of that name from an earlier process that had the same pid is not this run's.
  const log = `/tmp/mat-debug-${r.pid}.log`;
  assert.ok(!existsSync(log) || statSync(log).mtimeMs < started, `${log} was written by this run`);
  assert.deepEqual(readdirSync(home), []);
});

// --- what the language describes --------------------------------------------------------------------

test("numeric missing-value policy: markers, error and constant fill, the same in training and serving", () => {
  const policy = (opts: string) => write(`missing-${opts.length}.mdr`, readFileSync(spec, "utf8").replace("numeric x {}", `numeric x { ${opts} }`));
  const withMarker = write("marker.csv", [header, ...rowsOf(200), "u1,1,a,?,news,1"].join("\n") + "\n");
  fails(mdr("train", spec, "--data", withMarker, "-o", join(dir, "o-marker")), 1,
    /marker\.csv:202:4: 'x' must be a number, got "\?"; if it means missing, add `missing_values: \["\?"\]` to the feature/);
  const out = join(dir, "marker-run");
  assert.equal(mdr("train", policy(`missing_values: ["?"]`), "--data", withMarker, "-o", out, "--epochs", "1").code, 0);
  assert.equal(mdr("predict", out, "--data", withMarker, "-o", join(dir, "marker.out.csv")).code, 0);
  const withEmpty = write("empty-x.csv", [header, ...rowsOf(50), "u1,1,a,,news,1"].join("\n") + "\n");
  fails(mdr("train", policy("missing: error"), "--data", withEmpty, "-o", join(dir, "o-err")), 1, /empty-x\.csv:52:4: 'x' is missing, and the spec says `missing: error`/);
  const strict = join(dir, "strict-run");
  assert.equal(mdr("train", policy("missing: error"), "--data", good, "-o", strict, "--epochs", "1").code, 0);
  fails(mdr("predict", strict, "--data", withEmpty, "-o", join(dir, "o-err.csv")), 1, /'x' is missing, and the spec says `missing: error`/);
});

test("training without --valid says that early stopping is off, and how many rows it checked", () => {
  const r = mdr("train", spec, "--data", good, "-o", join(dir, "no-valid"), "--epochs", "1");
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /no --valid file: early stopping is off; training runs all 1 epochs and keeps the last/);
  assert.match(r.err, new RegExp(`checked ${readFileSync(good, "utf8").trim().split("\n").length - 1} rows of \\S*good\\.csv in \\d+\\.\\d s`));
});

// --- paper cuts -------------------------------------------------------------------------------------

test("predict reads CSV from stdin and writes to stdout with -", () => {
  const r = spawnSync(process.execPath, [`${root}bin/mdr.js`, "predict", trainedRun(), "--data", "-", "-o", "-", "--keep", "user"], {
    input: [header, ...rowsOf(10)].join("\n") + "\n", encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines[0], "user,probability");
  assert.equal(lines.length, 11);
  assert.ok(lines.slice(1).every((l) => /^u\d+,0\.\d+$/.test(l)));
  assert.equal(existsSync(join(root, "-")), false);
});

test("eval prints what it measured above the table", () => {
  const r = mdr("eval", trainedRun(), "--data", valid);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^metrics of .*trained on .*valid\.csv:\ndomain\s+rows/);
});

test("a JSON spec may name its schema for editors", () => {
  const file = write("with-schema.json", JSON.stringify({
    $schema: "../schemas/mdr-spec.schema.json", model: "j", domain: { name: "d", values: ["a"] },
    features: [{ kind: "numeric", name: "x" }], towers: [{ name: "t", input: "features", layers: [4] }],
  }));
  const r = mdr("validate", file);
  assert.equal(r.code, 0, r.err);
});

test("nothing a command reads is overwritten by what it writes: predict -o onto its input or model, compile into a run", () => {
  const run = trainedRun();
  const data = write("keep-me.csv", [header, ...rowsOf(20)].join("\n") + "\n");
  const before = readFileSync(data);
  fails(mdr("predict", run, "--data", data, "-o", data), 2, /would overwrite .*keep-me\.csv, which this command reads/);
  assert.ok(readFileSync(data).equals(before));
  const model = snapshot(run);
  fails(mdr("predict", run, "--data", data, "-o", join(run, "model.onnx")), 2, /would overwrite .*model\.onnx, which this command reads/);
  fails(mdr("compile", spec, "-o", run), 2, /holds a training run; compiling into it would replace its trained model/);
  assert.equal(snapshot(run), model);
});

test("flags that would silently mean nothing are refused: --seed abc, --lr Infinity", () => {
  fails(mdr("train", spec, "--data", good, "-o", join(dir, "o-seed"), "--seed", "abc"), 2, /--seed must be a whole number ≥ 0, got 'abc'/);
  fails(mdr("train", spec, "--data", good, "-o", join(dir, "o-lr"), "--lr", "Infinity"), 2, /--lr must be a positive finite number/);
  assert.equal(existsSync(join(dir, "o-seed")) || existsSync(join(dir, "o-lr")), false);
});

test("a feature that reads the label column is a spec error (the model would see the answer)", () => {
  const leaky = write("leaky.mdr", readFileSync(spec, "utf8").replace("numeric x {}", `numeric x {}\n    numeric answer { column: "label" }`));
  const r = mdr("validate", leaky);
  assert.equal(r.code, 1);
  assert.match(r.err, /Feature 'answer' reads the label column 'label': the model would see the answer\./);
});

test("a multi-valued cell with more values than any batch should pad to, or with nested objects, is a data error", () => {
  const huge = Array.from({ length: 1500 }, (_, i) => `t${i}`).join("|");
  const file = write("huge-cell.csv", [header, ...rowsOf(20), `u1,1,${huge},0.5,news,1`].join("\n") + "\n");
  const message = /huge-cell\.csv:22:3: 'tags' holds 1500 values; a multi-valued cell holds at most 1000/;
  fails(mdr("train", spec, "--data", file, "-o", join(dir, "o-huge")), 1, message);
  fails(mdr("predict", trainedRun(), "--data", file, "-o", join(dir, "huge.out.csv")), 1, message);
  assert.equal(existsSync(join(dir, "o-huge")) || existsSync(join(dir, "huge.out.csv")), false);
  const nested = write("nested.jsonl", `{"user":"u","slot":1,"tags":[{"a":1}],"x":0,"domain":"news","label":1}\n`);
  fails(mdr("predict", trainedRun(), "--data", nested, "-o", join(dir, "nested.out.csv")), 1, /nested\.jsonl:1: 'tags' must be text or a list of values, got \[\{"a":1\}\]/);
});
