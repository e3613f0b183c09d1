import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readCheckpoint, writeCheckpoint } from "../../src/runtime/checkpoint.js";
import { Interrupted } from "../../src/runtime/output.js";
import { initialState, latestCheckpoint, saveEpochCheckpoints } from "../../src/runtime/checkpoint-layout.js";
import { compileTrainStep } from "../../src/compiler/train-step.js";
import { syntheticModelData } from "../../src/runtime/synthetic-rows.js";
import { train } from "../../src/runtime/trainer.js";
import { compileText, root } from "../helpers/specs.js";
import { syntheticCesaa, syntheticSpec, writeSynthetic } from "../helpers/synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "mdr-resume-"));
const trainFile = join(dir, "train.csv");
const validFile = join(dir, "valid.csv");
writeSynthetic(trainFile, 6_000, 3);
writeSynthetic(validFile, 2_000, 4);
const spec = compileText(syntheticSpec(syntheticCesaa.replace("noise: 0.05", "noise: 0.1"))).spec!;

function finalTensors(out: string) {
  const ckpt = readCheckpoint(latestCheckpoint(join(out, "checkpoints")).path!);
  return ckpt;
}

test("2 epochs straight equal 1.5 epochs + interrupt + resume (same weights, one thread, same seed)", async () => {
  const straight = join(dir, "straight");
  const a = await train({ spec, train: trainFile, valid: validFile, out: straight, epochs: 2, threads: 1 });
  const stepsPerEpoch = a.steps / 2;
  const resumed = join(dir, "resumed");
  await assert.rejects(train({ spec, train: trainFile, valid: validFile, out: resumed, epochs: 2, threads: 1, stopAfterSteps: stepsPerEpoch + 3 }), Interrupted);
  const b = await train({ spec, train: trainFile, valid: validFile, out: resumed, epochs: 2, threads: 1, resume: true });
  assert.equal(b.steps, a.steps);
  const x = finalTensors(straight);
  const y = finalTensors(resumed);
  assert.deepEqual([...x.tensors.keys()], [...y.tensors.keys()]);
  for (const [name, t] of x.tensors) {
    const u = y.tensors.get(name)!;
    assert.ok(Buffer.from(t.data.buffer).equals(Buffer.from(u.data.buffer)), `${name} differs after resuming`);
  }
  // And the best model files agree byte for byte.
  assert.ok(readFileSync(join(straight, "model.onnx")).equals(readFileSync(join(resumed, "model.onnx"))));
});

test("a process killed while writing a checkpoint leaves the previous one loadable", async () => {
  const path = join(dir, "crash.safetensors");
  const small = new Map([["w", { shape: [4], data: Float32Array.from([1, 2, 3, 4]) }]]);
  writeCheckpoint(path, { tensors: small, metadata: { step: "1" } });
  // A child rewrites the same checkpoint with 256 MB of tensors; it is killed mid-write.
  const script = `
    import { writeCheckpoint } from ${JSON.stringify(`${root}dist/src/runtime/checkpoint.js`)};
    const big = new Map([["w", { shape: [64 * 1024 * 1024], data: new Float32Array(64 * 1024 * 1024).fill(7) }]]);
    process.stdout.write("writing\\n");
    for (;;) writeCheckpoint(${JSON.stringify(path)}, { tensors: big, metadata: { step: "2" } });
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  await new Promise((r) => setTimeout(r, 150));
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  const ckpt = readCheckpoint(path); // either the old one or a complete new one, never a torn file
  assert.ok(ckpt.metadata.step === "1" || ckpt.metadata.step === "2");
  if (ckpt.metadata.step === "1") assert.deepEqual([...ckpt.tensors.get("w")!.data], [1, 2, 3, 4]);
});

test("resuming skips a newest checkpoint that was cut short", () => {
  const ckdir = mkdtempSync(join(tmpdir(), "mdr-ckpts-"));
  const t = new Map([["w", { shape: [2], data: Float32Array.from([1, 2]) }]]);
  writeCheckpoint(join(ckdir, "ckpt-000000010.safetensors"), { tensors: t, metadata: { step: "10" } });
  writeCheckpoint(join(ckdir, "ckpt-000000020.safetensors"), { tensors: t, metadata: { step: "20" } });
  const full = readFileSync(join(ckdir, "ckpt-000000020.safetensors"));
  writeFileSync(join(ckdir, "ckpt-000000020.safetensors"), full.subarray(0, full.length - 3));
  assert.throws(() => readCheckpoint(join(ckdir, "ckpt-000000020.safetensors")), /truncated|damaged|checksum/);
  const found = latestCheckpoint(ckdir);
  assert.equal(found.path, join(ckdir, "ckpt-000000010.safetensors"));
  assert.deepEqual(found.damaged.map((d) => d.file), [join(ckdir, "ckpt-000000020.safetensors")]);
  const flipped = Buffer.from(readFileSync(join(ckdir, "ckpt-000000010.safetensors")));
  flipped[flipped.length - 1] ^= 1;
  writeFileSync(join(ckdir, "bad.safetensors"), flipped);
  assert.throws(() => readCheckpoint(join(ckdir, "bad.safetensors")), /checksum/);
  assert.ok(!readdirSync(ckdir).some((f) => f.endsWith(".tmp")));
  assert.ok(existsSync(join(ckdir, "ckpt-000000010.safetensors")));
});

test("an epoch's checkpoint is a second name of best.safetensors when the epoch is the best, and stays when a later best replaces it", () => {
  const ckpts = mkdtempSync(join(tmpdir(), "mdr-epoch-ckpt-"));
  const data = syntheticModelData(spec);
  const state = initialState(spec, compileTrainStep(spec, { data }), data);
  const [name, param] = [...state.params][0];
  const at = (step: number, value: number, best: boolean) => {
    state.step = step;
    param[0] = value;
    saveEpochCheckpoints(state, ckpts, spec, data, 2, best);
  };
  const first = (f: string) => readCheckpoint(join(ckpts, f));
  const valueIn = (f: string) => (first(f).tensors.get(name)!.data as Float32Array)[0];
  at(10, 1.5, true);
  assert.equal(statSync(join(ckpts, "ckpt-000000010.safetensors")).ino, statSync(join(ckpts, "best.safetensors")).ino, "one file, two names");
  at(20, 2.5, true);
  assert.equal(first("best.safetensors").metadata.step, "20");
  assert.equal(first("ckpt-000000010.safetensors").metadata.step, "10", "the earlier epoch's checkpoint kept its own bytes");
  assert.equal(valueIn("ckpt-000000010.safetensors"), 1.5);
  at(30, 3.5, false);
  assert.deepEqual(readdirSync(ckpts).filter((f) => !f.startsWith(".")).sort(), ["best.safetensors", "ckpt-000000020.safetensors", "ckpt-000000030.safetensors"]);
  assert.equal(valueIn("best.safetensors"), 2.5);
  assert.equal(valueIn("ckpt-000000030.safetensors"), 3.5);
  assert.notEqual(statSync(join(ckpts, "ckpt-000000030.safetensors")).ino, statSync(join(ckpts, "best.safetensors")).ino);
});
