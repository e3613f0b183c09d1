import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { assertNoStack, mdr } from "../helpers/cli.js";
import { cesaaArch, withArchitecture } from "../helpers/specs.js";

const dir = mkdtempSync(join(tmpdir(), "mdr-bench-"));
const spec = join(dir, "m.mdr");
writeFileSync(spec, withArchitecture(cesaaArch));

test("mdr bench measures the model and the train step on synthetic rows, with inspect's multiply-adds beside them", () => {
  const r = mdr("bench", spec, "--train", "--batch-size", "2,16", "--threads", "1", "--seconds", "0.05", "--json");
  assert.equal(r.code, 0, r.err);
  const { model, results } = JSON.parse(r.out) as { model: string; results: { what: string; batch: number; rows_per_s: number; ms: number; macs_per_row: number; gflops: number }[] };
  assert.equal(model, "t");
  assert.deepEqual(results.map((x) => `${x.what}@${x.batch}`), ["inference@2", "train step@2", "inference@16", "train step@16"]);
  const inspect = JSON.parse(mdr("inspect", spec, "--json").out) as { domains: { activated_macs: number }[] };
  const macs = Math.round(inspect.domains.reduce((s, d) => s + d.activated_macs, 0) / inspect.domains.length);
  for (const x of results) {
    assert.ok(x.rows_per_s > 0 && x.ms > 0, `${x.what} measured`);
    assert.ok(Math.abs(x.rows_per_s - (x.batch * 1000) / x.ms) <= 0.02 * x.rows_per_s + 1, "rows/s agrees with the time per run (ms is rounded to µs)");
    assert.equal(x.macs_per_row, x.what === "inference" ? macs : 3 * macs);
  }
  const text = mdr("bench", spec, "--batch-size", "4", "--seconds", "0.05");
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /what +threads +batch +rows\/s +ms per run +MACs\/row +GFLOP\/s\n-+/);
});

test("mdr bench refuses bad flags and broken specs in one line", () => {
  const bad = mdr("bench", spec, "--batch-size", "0,4");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /positive whole numbers/);
  const broken = join(dir, "broken.mdr");
  writeFileSync(broken, "model x {");
  const r = mdr("bench", broken);
  assert.equal(r.code, 1);
  assertNoStack(r.err);
});
