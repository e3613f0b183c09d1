import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describeFsError, UserError } from "../diagnostics/errors.js";
import { asParts, type ByteParts } from "../onnx/emit.js";

/** A temporary sibling of `path`: same directory, so the final rename is atomic. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

let interrupted = false;
let guards = 0;
const onSignal = () => {
  interrupted = true;
};

/**
 * Runs `fn` with SIGINT/SIGTERM deferred: the signal is noted instead of killing the process mid-write,
 * and `checkInterrupted` lets the writer abandon its temporary files and stop cleanly.
 */
export async function withSignalGuard<T>(fn: () => Promise<T> | T): Promise<T> {
  if (guards++ === 0) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  try {
    return await fn();
  } finally {
    if (--guards === 0) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }
}

export class Interrupted extends UserError {
  constructor(message = "interrupted; no output was written") {
    super(message, 130, "");
  }
}

export function checkInterrupted(): void {
  if (interrupted) throw new Interrupted();
}

/** Whether SIGINT/SIGTERM arrived under the guard (for loops that stop at a safe point themselves). */
export function isInterrupted(): boolean {
  return interrupted;
}

/** Writes every file to a temporary name, fsyncs, then renames them into place: all appear, or none. */
export function writeFilesAtomic(dir: string, files: Record<string, Uint8Array | ByteParts | string>): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UserError(`${dir} is a file, not a folder; choose a folder for the outputs`);
  makeFolder(dir);
  const temps: [string, string][] = [];
  try {
    for (const [name, data] of Object.entries(files)) {
      const final = join(dir, name);
      const tmp = tempPathFor(final);
      temps.push([tmp, final]);
      const fd = openSync(tmp, "w");
      try {
        for (const part of typeof data === "string" ? [Buffer.from(data)] : asParts(data)) writeSync(fd, part);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    checkInterrupted();
    for (const [tmp, final] of temps) renameSync(tmp, final);
  } catch (e) {
    for (const [tmp] of temps) rmSync(tmp, { force: true });
    if (e instanceof UserError || !(e as NodeJS.ErrnoException).code) throw e;
    throw new UserError(`cannot write to ${dir}: ${describeFsError(e)}`);
  }
}

/** mkdir -p with the real reason on failure (a recursive mkdir reports some of them as ENOENT). */
export function makeFolder(path: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (e) {
    let err = e;
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && existsSync(dirname(path))) {
      try {
        mkdirSync(path);
      } catch (again) {
        err = again;
      }
    }
    throw new UserError(`cannot create ${path}: ${describeFsError(err)}`);
  }
}
