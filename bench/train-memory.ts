/**
 * A real `mdr train` run: the benchmark spec plus a field of 10^6 ids, one epoch over a CSV of 2·10^6
 * rows, evaluated on a validation file of 5% as many rows. Measured: the process's peak resident memory
 * against the bytes its embedding tables and their Adam state must hold (3 × rows × dim × 4 bytes), and
 * its throughput against the pure training step (ONNX Runtime + write-back on batches encoded beforehand)
 * of the same spec, measured in this run.
 *
 *   npm run bench -- train-memory      (or node dist/bench/train-memory.js [rows] [ids] for one figure)
 */
import { spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileSpecFile } from "../src/compiler/frontend.js";
import { benchTrainStep } from "../src/runtime/benchmark.js";
import type { Spec } from "../src/spec/types.js";
import { rangedFields, root } from "./util.js";

export interface MemoryRow {
  rows: number;
  ids: number;
  seconds: number;
  /** Whole command: start-up, the checking first pass over the file, the epoch, the written run folder. */
  rows_per_s: number;
  /** The training loop alone, as `mdr train` reports it. */
  loop_rows_per_s: number;
  /** The pure step: the mean of its figures before and after the run. */
  step_rows_per_s: number;
  step_before: number;
  step_after: number;
  loop_over_step: number;
  command_over_step: number;
  peak_rss_mb: number;
  big_table_state_mb: number;
  all_tables_state_mb: number;
  ratio_to_big_table: number;
  ratio_to_all_tables: number;
}

/** One `mdr train` epoch over `rows` synthetic rows with a `ids`-id field, measured from outside. */
export async function measureTrainMemory(rows = 2_000_000, ids = 1_000_000): Promise<MemoryRow> {
  const dir = mkdtempSync(join(tmpdir(), "mdr-train-memory-"));
  try {
    const spec = readFileSync(`${root}bench/specs/cesaa_small.mdr`, "utf8").replace("    numeric n0 {}", `    categorical big { range: [0, ${ids - 1}], dim: 16 }\n    numeric n0 {}`);
    writeFileSync(join(dir, "spec.mdr"), spec);
    const compiled = compileSpecFile(join(dir, "spec.mdr")).spec!;
    await writeData(compiled, join(dir, "train.csv"), rows, 12345);
    await writeData(compiled, join(dir, "valid.csv"), Math.round(rows / 20), 54321);
    // The pure step is timed before and after the run, and their mean taken: this VM's speed drifts by
    // 10–20% over minutes, and a reference from one side of the run alone would carry that into the ratios.
    const stepBefore = (await benchTrainStep(compiled, compiled.train.batch_size, 1, { seconds: 10 })).rows_per_s;
    const t0 = performance.now();
    const child = spawnSync(process.execPath, ["--import", `${root}dist/bench/peak-rss.js`, `${root}bin/mdr.js`, "train", join(dir, "spec.mdr"), "--data", join(dir, "train.csv"), "--valid", join(dir, "valid.csv"), "-o", join(dir, "run"), "--epochs", "1", "--threads", "1"], { encoding: "utf8", maxBuffer: 1 << 30, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    const seconds = (performance.now() - t0) / 1000;
    if (child.status !== 0) throw new Error(`mdr train failed: ${child.stderr.slice(-2000)}`);
    const peaks = [...child.stderr.matchAll(/peak_rss_bytes (\d+)/g)].map((m) => Number(m[1]));
    if (peaks.length !== 1) throw new Error(`expected one peak memory report from mdr train, got ${peaks.length}`);
    const peak = peaks[0];
    const loop = Number(/\((\d+) rows\/s/.exec(child.stderr)?.[1]);
    const stepAfter = (await benchTrainStep(compiled, compiled.train.batch_size, 1, { seconds: 10 })).rows_per_s;
    const step = Math.round((stepBefore + stepAfter) / 2);
    const big = 3 * (ids + 1) * 16 * 4;
    const all = 3 * rangedFields(compiled).reduce((a, f) => a + f.ids + 1, 0) * 16 * 4;
    const mb = (x: number) => Math.round(x / 2 ** 20);
    return {
      rows, ids, seconds: Number(seconds.toFixed(1)), rows_per_s: Math.round(rows / seconds), loop_rows_per_s: loop, step_rows_per_s: step, step_before: stepBefore, step_after: stepAfter,
      loop_over_step: Number((loop / step).toFixed(2)), command_over_step: Number((rows / seconds / step).toFixed(2)), peak_rss_mb: mb(peak), big_table_state_mb: mb(big), all_tables_state_mb: mb(all),
      ratio_to_big_table: Number((peak / big).toFixed(2)), ratio_to_all_tables: Number((peak / all).toFixed(2)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith("train-memory.js")) {
  const [rows, ids] = process.argv.slice(2, 4).map(Number);
  console.log(JSON.stringify(await measureTrainMemory(rows || undefined, ids || undefined)));
}

/** A CSV of the benchmark spec's columns: uniform ids in each declared range, numbers, its domains, 30% positives. */
async function writeData(spec: Spec, path: string, rows: number, seed: number): Promise<void> {
  const ranged = rangedFields(spec);
  const numerics = spec.features.filter((f) => f.kind === "numeric").map((f) => f.column);
  const domains = spec.domain.values;
  const out = createWriteStream(path);
  out.write([...ranged.map((f) => f.column), ...numerics, spec.domain.column, spec.label].join(",") + "\n");
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  let chunk = "";
  for (let i = 0; i < rows; i++) {
    const cells = ranged.map((f) => String(Math.floor(rnd() * f.ids)));
    for (let k = 0; k < numerics.length; k++) cells.push((rnd() * 4 - 2).toFixed(3));
    cells.push(domains[Math.floor(rnd() * domains.length)], rnd() < 0.3 ? "1" : "0");
    chunk += cells.join(",") + "\n";
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
      chunk = "";
    }
  }
  out.end(chunk);
  await new Promise<void>((r) => out.on("finish", () => r()));
}
