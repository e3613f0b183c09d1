import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { assertNoStack, mdr } from "../helpers/cli.js";
import { root } from "../helpers/specs.js";
import { syntheticCesaa, syntheticSpec, writeSynthetic } from "../helpers/synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "mdr-train-cli-"));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const specPath = write("syn.mdr", syntheticSpec(syntheticCesaa));
const header = "user,item,x,domain,label";
const noStack = assertNoStack;

test("train + eval on a small file: per-domain table, model, metrics, checkpoints; eval reproduces validation", () => {
  const trainFile = join(dir, "t.csv");
  const validFile = join(dir, "v.csv");
  writeSynthetic(trainFile, 5_000, 1);
  writeSynthetic(validFile, 1_500, 2);
  const out = join(dir, "run");
  const r = mdr("train", specPath, "--data", trainFile, "--valid", validFile, "-o", out, "--epochs", "2", "--threads", "1");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^news\s+\d+\s+0\.\d{3}\s+0\.\d{4}\s+0\.\d{4}$/m);
  assert.match(r.out, /^overall\s+1500\s/m);
  assert.deepEqual(readdirSync(out).sort(), ["checkpoints", "manifest.json", "metrics.jsonl", "model.onnx", "run.json", "train_log.jsonl"]);
  const lines = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.overall.auc > 0.5 && typeof l.domains.video.auc === "number"));
  const e = mdr("eval", out, "--data", validFile, "--json");
  assert.equal(e.code, 0, e.err);
  const m = JSON.parse(e.out);
  const best = lines.reduce((a, b) => (b.overall.auc > a.overall.auc ? b : a)); // the spec's metric is auc
  assert.ok(Math.abs(m.overall.auc - best.overall.auc) < 1e-9, `eval ${m.overall.auc} vs training's validation ${best.overall.auc}`);
  assert.ok(Math.abs(m.domains.shop.logloss - best.domains.shop.logloss) < 1e-9);
  // The best checkpoint compiles back into an inference model that scores the same.
  const again = join(dir, "from-checkpoint");
  assert.equal(mdr("compile", specPath, "-o", again, "--checkpoint", join(out, "checkpoints", "best.safetensors"), "--no-train-step").code, 0);
  const e2 = JSON.parse(mdr("eval", again, "--data", validFile, "--json").out);
  assert.equal(e2.overall.auc, m.overall.auc);
});

test("train: bad data gives file:line:column, exit 1, and no output folder", () => {
  const good = "u1,i1,0.5,news,1";
  const cases: [string, string, RegExp][] = [
    ["missing-col.csv", "user,item,domain,label\nu1,i1,news,1\n", /missing-col\.csv:1: missing column 'x'/],
    ["bad-number.csv", [header, good, "u2,i2,abc,news,0"].join("\n"), /bad-number\.csv:3:3: 'x' must be a number, got "abc"/],
    ["bad-label.csv", [header, good, "u2,i2,0.1,news,yes"].join("\n"), /bad-label\.csv:3:5: label 'label' must be 0 or 1, got "yes"/],
    ["bad-domain.csv", [header, good, "u2,i2,0.1,sports,0"].join("\n"), /bad-domain\.csv:3:4: domain value 'sports' is not one of news, video, shop/],
    ["empty.csv", "", /empty\.csv:1: the file is empty/],
    ["ragged.csv", [header, good, "u2,i2"].join("\n"), /ragged\.csv:3: row has 2 fields but the header has 5/],
  ];
  for (const [name, text, pattern] of cases) {
    const out = join(dir, `out-${name}`);
    const r = mdr("train", specPath, "--data", write(name, text), "-o", out);
    assert.equal(r.code, 1, `${name}: ${r.err}`);
    assert.match(r.err, pattern);
    noStack(r.err);
    assert.equal(existsSync(out), false, `${name}: nothing written`);
  }
});

test("train refuses standard input for its data: it reads the files more than once", () => {
  for (const flag of ["--data", "--valid"]) {
    const out = join(dir, `out-stdin${flag}`);
    const args = flag === "--data" ? ["--data", "-"] : ["--data", write("one.csv", `${header}\nu1,i1,0.5,news,1\n`), "--valid", "-"];
    const r = mdr("train", specPath, ...args, "-o", out);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`${flag} -: training reads its files more than once`));
    noStack(r.err);
    assert.equal(existsSync(out), false);
  }
});

test("train: undeclared domains are skipped and counted when the spec says skip", () => {
  const skipSpec = write("skip.mdr", syntheticSpec(syntheticCesaa).replace('values: [news, video, shop] }', 'values: [news, video, shop], unknown: skip }'));
  const data = write("mixed.csv", [header, ...Array.from({ length: 300 }, (_, i) => `u${i % 7},i${i % 5},0.1,${["news", "video", "shop", "sports"][i % 4]},${i % 2}`)].join("\n"));
  const r = mdr("train", skipSpec, "--data", data, "-o", join(dir, "skip-run"), "--epochs", "1");
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /skipped 75 rows with undeclared domain values/);
});

test("Ctrl-C saves a checkpoint and exits cleanly; --resume finishes the run", async () => {
  const trainFile = join(dir, "long.csv");
  writeSynthetic(trainFile, 60_000, 5);
  const out = join(dir, "interrupted");
  const child = spawn(process.execPath, [`${root}bin/mdr.js`, "train", specPath, "--data", trainFile, "-o", out, "--epochs", "2", "--batch-size", "64"], { cwd: root });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  // Wait until training has started (the checkpoint folder appears), then interrupt.
  for (let i = 0; i < 200 && !existsSync(join(out, "checkpoints")); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  child.kill("SIGINT");
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  assert.equal(code, 130, err);
  assert.match(err, /interrupted at step \d+; saved .*ckpt-\d+\.safetensors — continue with --resume/);
  noStack(err);
  const r = mdr("train", specPath, "--data", trainFile, "-o", out, "--epochs", "2", "--batch-size", "64", "--resume");
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /resumed from .*ckpt-/);
  assert.ok(existsSync(join(out, "model.onnx")));
});

test("train, eval and predict read Parquet files", async () => {
  const { parquetWriteBuffer } = await import("hyparquet-writer");
  const n = 3000;
  const rows = Array.from({ length: n }, (_, i) => ({ user: `u${i % 50}`, item: `i${(i * 7) % 40}`, x: ((i % 13) - 6) / 3, domain: ["news", "video", "shop"][i % 3], label: (i % 50) < 20 === (i % 3 === 1) ? 1 : 0 }));
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "user", data: rows.map((r) => r.user), type: "STRING" },
      { name: "item", data: rows.map((r) => r.item), type: "STRING" },
      { name: "x", data: rows.map((r) => r.x), type: "DOUBLE" },
      { name: "domain", data: rows.map((r) => r.domain), type: "STRING" },
      { name: "label", data: rows.map((r) => r.label), type: "INT32" },
    ],
  });
  const file = join(dir, "rows.parquet");
  writeFileSync(file, Buffer.from(buffer));
  const out = join(dir, "parquet-run");
  const r = mdr("train", specPath, "--data", file, "--valid", file, "-o", out, "--epochs", "2");
  assert.equal(r.code, 0, r.err);
  const m = JSON.parse(mdr("eval", out, "--data", file, "--json").out);
  assert.equal(m.overall.rows, n);
  assert.ok(m.overall.auc > 0.7, `the model learned the pattern (AUC ${m.overall.auc})`);
  const scored = join(dir, "parquet-scores.csv");
  assert.equal(mdr("predict", out, "--data", file, "-o", scored, "--keep", "user").code, 0);
  assert.equal(readFileSync(scored, "utf8").trim().split("\n").length, n + 1);
});
