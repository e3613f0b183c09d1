import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { createSourceFile } from "../src/diagnostics/source.js";
import { compileSpecSource } from "../src/compiler/frontend.js";
import type { Spec } from "../src/spec/types.js";

export const root = new URL("../../", import.meta.url).pathname;

export function exampleSources(): string[] {
  return ["shared_bottom", "mmoe", "ple", "star", "cesaa"].map((n) => readFileSync(`${root}examples/movielens/${n}.mdr`, "utf8"));
}

export function machine(): Record<string, string | number> {
  return { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? "unknown", date: new Date().toISOString().slice(0, 10) };
}

/** Writes bench/results/<name>.json and .md (a table of the rows). */
export function writeResults(name: string, rows: Record<string, string | number>[], notes: string[] = []): void {
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/${name}.json`, JSON.stringify({ machine: machine(), rows }, null, 2) + "\n");
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const md = [
    `# ${name}`, "", `Machine: ${machine().cpu}, ${machine().cpus} cores, Node ${process.version}, ${machine().date}.`, "",
    `| ${keys.join(" | ")} |`, `|${keys.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${keys.map((k) => String(r[k] ?? "")).join(" | ")} |`),
    "", ...notes,
  ].join("\n");
  writeFileSync(`${root}bench/results/${name}.md`, md + "\n");
}

/** A bench spec, compiled by the front end. */
export function loadSpec(path: string): Spec {
  const r = compileSpecSource(createSourceFile(path, readFileSync(path, "utf8")));
  if (!r.spec) throw new Error(`${path} does not compile`);
  return r.spec;
}

/** Each categorical field with a declared range and its number of ids, in spec order. */
export function rangedFields(spec: Spec): { column: string; ids: number }[] {
  return spec.features.flatMap((f) => (f.kind === "categorical" && f.range ? [{ column: f.column, ids: f.range[1] - f.range[0] + 1 }] : []));
}

/**
 * Turns of the side-by-side measurements against PyTorch, the best of each side kept: these machines' speed
 * drifts within minutes, and the second core's within seconds.
 */
export const TURNS = 3;

let python: string | null | undefined;

/** $PYTHON, else python3 on the PATH, else Debian's own (a pyenv python3 may shadow it): the first that imports torch. */
export function pythonWithTorch(): string | undefined {
  python ??= [process.env.PYTHON, "python3", "/usr/bin/python3"].find((p) => {
    if (!p) return false;
    try {
      execFileSync(p, ["-c", "import torch"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  }) ?? null;
  return python ?? undefined;
}

/** One thread count for every pool (torch's, OpenMP's and the BLAS's), or they oversubscribe the cores. */
function torchThreads(threads: number): NodeJS.ProcessEnv {
  return { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
}

/** Debian's OpenMP build of OpenBLAS (its python3-torch may load the pthreads build). */
const OPENMP_OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0";

/**
 * The settings PyTorch is tried under, best kept. With more than one thread, Debian's torch runs its own
 * OpenMP pool beside the pthreads pool of the OpenBLAS it loads, and the two spin against each other (on a
 * 2-core VM, 2 threads measured half the speed of one); a passive OpenMP wait, or the OpenMP OpenBLAS
 * preloaded so that both share one pool, avoids that. The competitor gets its best setting, not its worst.
 */
export function torchSettings(threads: number): { name: string; env: NodeJS.ProcessEnv }[] {
  const env = torchThreads(threads);
  if (threads === 1) return [{ name: "1 thread", env }];
  return [
    { name: "default", env },
    { name: "OMP_WAIT_POLICY=PASSIVE", env: { ...env, OMP_WAIT_POLICY: "PASSIVE" } },
    ...(existsSync(OPENMP_OPENBLAS) ? [{ name: "OpenMP OpenBLAS preloaded", env: { ...env, LD_PRELOAD: OPENMP_OPENBLAS } }] : []),
  ];
}

/** Runs the PyTorch reference under each of `torchSettings(threads)` and keeps the fastest by `key`. */
export function bestTorchRun<T extends Record<string, unknown>>(python: string, args: string[], threads: number, key: keyof T): T & { setting: string } {
  let best: (T & { setting: string }) | undefined;
  for (const { name, env } of torchSettings(threads)) {
    const line = execFileSync(python, [`${root}bench/pytorch/cesaa_small.py`, ...args], { encoding: "utf8", env, stdio: ["ignore", "pipe", "ignore"] });
    const r = { ...(JSON.parse(line.trim().split("\n").pop()!) as T), setting: name };
    if (!best || (r[key] as number) > (best[key] as number)) best = r;
  }
  return best!;
}
