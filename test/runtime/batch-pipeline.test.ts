import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compileTrainStep } from "../../src/compiler/train-step.js";
import { encodeRows, stepSeed } from "../../src/runtime/batch-encoding.js";
import { EpochAhead, epochBatches, type EpochBatch, type EpochJob } from "../../src/runtime/batch-pipeline.js";
import { DataError } from "../../src/runtime/cells.js";
import { rowLookups } from "../../src/runtime/embedding-store.js";
import { openRows } from "../../src/runtime/readers.js";
import { labelRow, type LabelledRow } from "../../src/runtime/rows.js";
import { bufferedShuffle } from "../../src/runtime/shuffle.js";
import type { Spec } from "../../src/spec/types.js";
import { compileText } from "../helpers/specs.js";
import { syntheticCesaa, writeSynthetic } from "../helpers/synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "mdr-batches-"));
// oov_rate draws from each step's seed, so a batch encoded with the wrong step number would differ.
const spec = compileText(`
model synthetic {
  domain d { column: "domain", values: [news, video, shop] }
  features {
    categorical user { dim: 8, oov_rate: 0.2 }
    categorical item { dim: 8 }
    numeric x {}
  }
${syntheticCesaa}
  train { optimizer: adam, lr: 0.01, batch_size: 32, epochs: 1, seed: 5 }
}`).spec!;
const data = {
  vocabularies: { user: Array.from({ length: 200 }, (_, i) => `u${i}`), item: Array.from({ length: 300 }, (_, i) => `i${i}`) },
  numeric: {},
};
const signature = compileTrainStep(spec, { data }).signature;

async function collect(job: EpochJob): Promise<EpochBatch[]> {
  const out: EpochBatch[] = [];
  for await (const b of epochBatches(job)) out.push(b);
  return out;
}

/** The same epoch on this thread, step by step: rows labelled (those the domain policy skips left out), shuffled, cut and encoded. */
async function expected(file: string, shuffleBuffer: number, stream: string, firstStep: number, s: Spec = spec) {
  const rowOf = rowLookups(s, data, signature);
  async function* labelled(): AsyncGenerator<LabelledRow> {
    for await (const row of openRows(file, { positions: false }).rows()) {
      const l = labelRow(s, row, file);
      if (l) yield l;
    }
  }
  const batches: LabelledRow[][] = [[]];
  for await (const l of bufferedShuffle(labelled(), shuffleBuffer, s.train.seed, stream)) {
    if (batches[batches.length - 1].length === s.train.batch_size) batches.push([]);
    batches[batches.length - 1].push(l);
  }
  return batches.map((b, i) => ({
    labels: Float32Array.from(b, (r) => r.label),
    encoded: encodeRows(s, signature, rowOf, b, b.map((r) => r.domain), file, stepSeed(s.train.seed, firstStep + i)),
  }));
}

test("an epoch's batches from the worker: every row once, in the shuffled order, encoded as on the main thread", async () => {
  const file = join(dir, "train.csv");
  const written = writeSynthetic(file, 300, 9);
  const job: EpochJob = { file, spec, signature, data, shuffleBuffer: 64, stream: "shuffle-epoch0", skip: 0, firstStep: 11 };
  const got = await collect(job);
  const want = await expected(file, 64, "shuffle-epoch0", 11);
  assert.equal(got.length, Math.ceil(300 / 32));
  assert.equal(got.length, want.length);
  got.forEach((b, i) => {
    assert.equal(b.kind, "batch");
    if (b.kind !== "batch") return;
    assert.equal(b.step, 11 + i);
    assert.equal(b.seed, stepSeed(spec.train.seed, 11 + i));
    assert.deepEqual(b.labels, want[i].labels);
    assert.deepEqual(b.encoded, want[i].encoded);
  });
  const labels = got.flatMap((b) => (b.kind === "batch" ? [...b.labels] : []));
  assert.equal(labels.length, 300);
  assert.equal(labels.reduce((a, x) => a + x, 0), written.labels.reduce((a, x) => a + x, 0));
  // The shuffle really reorders: not the file's label sequence.
  assert.notDeepEqual(labels, written.labels);

  // A resumed epoch counts the batches it already trained on and numbers the rest from the next step.
  const resumed = await collect({ ...job, skip: 3, firstStep: 14 });
  assert.deepEqual(resumed.slice(0, 3).map((b) => b.kind === "skipped" && b.rows), [32, 32, 32]);
  assert.deepEqual(resumed.slice(3), got.slice(3));
});

test("rows the domain policy skips are left out before the shuffle: every batch but the last is full", async () => {
  const skipping: Spec = { ...spec, domain: { ...spec.domain, unknown: "skip" } };
  const file = join(dir, "skip.csv");
  const written = writeSynthetic(file, 300, 3);
  // Every fifth row gets a domain the spec does not declare.
  const lines = readFileSync(file, "utf8").trimEnd().split("\n");
  writeFileSync(file, lines.map((l, i) => (i > 0 && i % 5 === 0 ? l.replace(/,(news|video|shop),/, ",radio,") : l)).join("\n") + "\n");
  const kept = written.labels.filter((_, i) => (i + 1) % 5 !== 0);
  const got = await collect({ file, spec: skipping, signature, data, shuffleBuffer: 64, stream: "s", skip: 0, firstStep: 1 });
  const want = await expected(file, 64, "s", 1, skipping);
  assert.equal(got.length, Math.ceil(kept.length / 32));
  got.forEach((b, i) => {
    assert.equal(b.kind, "batch");
    if (b.kind !== "batch") return;
    assert.equal(b.labels.length, i < got.length - 1 ? 32 : kept.length - 32 * (got.length - 1));
    assert.deepEqual(b.labels, want[i].labels);
    assert.deepEqual(b.encoded, want[i].encoded);
  });
  assert.equal(got.reduce((a, b) => a + (b.kind === "batch" ? b.labels.reduce((x, y) => x + y, 0) : 0), 0), kept.reduce((a, x) => a + x, 0));
});

test("a bad row or a missing column found by the worker is the same positioned data error", async () => {
  const bad = join(dir, "bad.csv");
  writeFileSync(bad, "user,item,x,domain,label\nu1,i1,0.5,news,1\nu2,i2,0.1,video,maybe\n");
  const job: EpochJob = { file: bad, spec, signature, data, shuffleBuffer: 8, stream: "s", skip: 0, firstStep: 1 };
  await assert.rejects(collect(job), (e: unknown) => e instanceof DataError && e.line === 3 && /label 'label' must be 0 or 1, got "maybe"/.test(e.message));
  const missing = join(dir, "missing.csv");
  writeFileSync(missing, "user,x,domain,label\nu1,0.5,news,1\n");
  await assert.rejects(collect({ ...job, file: missing }), (e: unknown) => e instanceof DataError && /missing column 'item'/.test(e.message));
});

test("an epoch started ahead hands over the same batches, stops at once when cancelled, and keeps its error until taken", async () => {
  const file = join(dir, "ahead.csv");
  writeSynthetic(file, 300, 4);
  const job: EpochJob = { file, spec, signature, data, shuffleBuffer: 64, stream: "shuffle-epoch1", skip: 0, firstStep: 20 };
  const ahead = new EpochAhead(job);
  await new Promise((r) => setTimeout(r, 200)); // the worker reads meanwhile
  const taken: EpochBatch[] = [];
  for await (const b of ahead.take()) taken.push(b);
  assert.deepEqual(taken, await collect(job));

  const cancelled = new EpochAhead({ ...job, shuffleBuffer: 1_000_000 });
  cancelled.cancel();
  let n = 0;
  for await (const _ of cancelled.take()) n++;
  assert.equal(n, 0);

  const bad = join(dir, "bad-ahead.csv");
  writeFileSync(bad, "user,item,x,domain,label\nu1,i1,0.5,news,2\n");
  const failing = new EpochAhead({ ...job, file: bad });
  await new Promise((r) => setTimeout(r, 300)); // the error arrives before anyone takes: no unhandled rejection
  await assert.rejects(async () => {
    for await (const _ of failing.take()) void _;
  }, (e: unknown) => e instanceof DataError && e.line === 2);
});
