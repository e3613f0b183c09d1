import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describeFsError, UserError } from "../diagnostics/errors.js";
import type { Spec } from "../spec/types.js";
import type { EvaluationRecord } from "./train-options.js";
import { makeFolder, writeFilesAtomic } from "./output.js";

/**
 * A training run's output folder. One run owns it: `run.json` marks whose it is, and `.lock` (created
 * exclusively, holding the pid) keeps a second process out while a run writes. A fresh run refuses a
 * folder holding anything; `--resume` continues the run recorded there, `--overwrite` replaces it — and
 * removes only the files a run writes, never anything else.
 */
export const RUN_FILE = "run.json";
const LOCK_FILE = ".lock";
/** What a run writes; `--overwrite` removes exactly these. */
/** The training curve of a run: mean loss and loss terms over windows of steps. */
export const TRAIN_LOG = "train_log.jsonl";
const RUN_FILES = ["model.onnx", "model.onnx.data", "manifest.json", "metrics.jsonl", TRAIN_LOG, "report.html", RUN_FILE];
const CHECKPOINT_FILE = /^(ckpt-\d+|best)\.safetensors$/;

export type FolderMode = "fresh" | "resume" | "overwrite";

export interface RunRecord {
  format: "mdrc-run/1";
  spec: Spec;
  data: string;
  valid?: string;
  started: string;
}

/** What is in the folder now, checked before any data is read (no writes). */
export function inspectRunFolder(out: string, mode: FolderMode): { exists: boolean; record?: RunRecord } {
  if (out === "-") throw new UserError("-o - means stdout, and a run writes a folder; name the folder");
  if (!existsSync(out)) {
    return { exists: false };
  }
  if (!statSync(out).isDirectory()) throw new UserError(`-o ${out} is a file, not a folder; choose a folder for the run's outputs`);
  const entries = readdirSync(out).filter((f) => f !== LOCK_FILE);
  if (entries.length === 0) return { exists: true };
  const isRun = entries.includes(RUN_FILE) || entries.includes("checkpoints") || entries.includes("metrics.jsonl");
  if (!isRun) {
    throw new UserError(`${out} is not empty and holds no mdr run (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", …" : ""}); choose an empty or new folder`);
  }
  const record = readRunRecord(out);
  if (mode === "fresh") {
    throw new UserError(`${out} holds an earlier run${record ? ` (started ${record.started})` : ""}; continue it with --resume, replace it with --overwrite, or choose another folder`);
  }
  return { exists: true, record };
}

function readRunRecord(out: string): RunRecord | undefined {
  const path = join(out, RUN_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const r = JSON.parse(readFileSync(path, "utf8")) as RunRecord;
    if (r.format !== "mdrc-run/1" || typeof r.spec !== "object") throw new Error("not an mdrc run record");
    return r;
  } catch (e) {
    throw new UserError(`${path} is damaged (${(e as Error).message}); replace the run with --overwrite`, 1);
  }
}

export interface RunFolder {
  /** The run recorded in the folder when it was taken, if any. */
  record?: RunRecord;
  release(): void;
}

/**
 * Takes the folder for this process (creating it), checks it again under the lock — another run may have
 * finished meanwhile — and for `overwrite` removes the earlier run's files.
 */
export function takeRunFolder(out: string, mode: FolderMode): RunFolder {
  const created = !existsSync(out);
  makeFolder(out);
  const lock = join(out, LOCK_FILE);
  acquireLock(lock, out);
  const release = () => {
    rmSync(lock, { force: true });
    if (created && readdirSync(out).length === 0) rmdirSync(out);
  };
  try {
    const { record } = inspectRunFolder(out, mode);
    if (mode === "overwrite") removeRun(out);
    return { ...(record && mode === "resume" ? { record } : {}), release };
  } catch (e) {
    release();
    throw e;
  }
}

function acquireLock(lock: string, out: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EEXIST") throw new UserError(`cannot write to ${out}: ${describeFsError(e)}`);
      const pid = Number.parseInt(readFileSync(lock, "utf8"), 10);
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new UserError(`another mdr process (pid ${pid}) is writing to ${out}; wait for it, or choose another folder`);
      }
      unlinkSync(lock); // left by a process that died
    }
  }
  throw new UserError(`cannot lock ${out}; another process keeps taking it`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function removeRun(out: string): void {
  for (const f of RUN_FILES) rmSync(join(out, f), { force: true });
  const ckpt = join(out, "checkpoints");
  if (existsSync(ckpt)) {
    for (const f of readdirSync(ckpt)) if (CHECKPOINT_FILE.test(f) || /\.tmp$/.test(f)) rmSync(join(ckpt, f), { force: true });
    if (readdirSync(ckpt).length === 0) rmdirSync(ckpt);
  }
}

export function writeRunRecord(out: string, record: Omit<RunRecord, "format">): void {
  writeFilesAtomic(out, { [RUN_FILE]: JSON.stringify({ format: "mdrc-run/1", ...record }, null, 2) + "\n" });
}

/** Settings that may change when a run is resumed: how long it trains, how often it saves, its learning rates. */
const RESUMABLE = new Set(["/train/epochs", "/train/checkpoint_every", "/train/early_stopping/patience", "/train/lr", "/train/embedding_lr"]);

/** Differences between the recorded and the requested spec that forbid resuming, as "path: old → new". */
export function resumeConflicts(recorded: Spec, requested: Spec): string[] {
  return specConflicts(recorded, requested, (path) => RESUMABLE.has(path));
}

/** Differences between two specs outside the ignored paths, as "path: old → new". */
export function specConflicts(recorded: Spec, requested: Spec, ignore: (path: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (ignore(path)) return;
    if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}/${k}`);
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${path.slice(1).replace(/\//g, ".")}: ${JSON.stringify(a) ?? "unset"} → ${JSON.stringify(b) ?? "unset"}`);
  };
  walk(recorded, requested, "");
  return out;
}


/** The records of a JSON Lines log (metrics.jsonl, train_log.jsonl); a line cut short by a crash is skipped. */
export function readJsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").flatMap((l) => {
    if (!l.trim()) return [];
    try {
      return [JSON.parse(l) as T];
    } catch {
      return [];
    }
  });
}

/** Rewrites a JSON Lines log, atomically, with only the records `keep` accepts (on resume); returns them. */
export function keepJsonLines<T>(path: string, keep: (record: T) => boolean): T[] {
  if (!existsSync(path)) return [];
  const kept = readJsonLines<T>(path).filter(keep);
  writeFilesAtomic(dirname(path), { [basename(path)]: kept.map((r) => JSON.stringify(r) + "\n").join("") });
  return kept;
}

/**
 * On resume, metrics.jsonl keeps only the records the checkpoint covers; later ones (written after it,
 * before the interruption) would be written again.
 */
export function keepMetricsUpTo(path: string, state: { step: number; epoch: number }): EvaluationRecord[] {
  return keepJsonLines<EvaluationRecord>(path, (r) => r.step < state.step || (r.step === state.step && (r.at === "step" || r.epoch <= state.epoch)));
}

/** On resume, the training curve keeps only the steps the checkpoint covers. */
export function keepTrainLogUpTo(out: string, state: { step: number; epoch: number }): void {
  keepJsonLines<{ step?: unknown }>(join(out, TRAIN_LOG), (r) => typeof r?.step === "number" && r.step <= state.step);
}
