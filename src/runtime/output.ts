import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

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

export class Interrupted extends Error {
  constructor(message = "interrupted; no output was written") {
    super(message);
  }
}

export function checkInterrupted(): void {
  if (interrupted) throw new Interrupted();
}

/** Writes every file to a temporary name, fsyncs, then renames them into place: all appear, or none. */
export function writeFilesAtomic(dir: string, files: Record<string, Uint8Array | string>): void {
  mkdirSync(dir, { recursive: true });
  const temps: [string, string][] = [];
  try {
    for (const [name, data] of Object.entries(files)) {
      const final = join(dir, name);
      const tmp = tempPathFor(final);
      temps.push([tmp, final]);
      const fd = openSync(tmp, "w");
      try {
        writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    checkInterrupted();
    for (const [tmp, final] of temps) renameSync(tmp, final);
  } catch (e) {
    for (const [tmp] of temps) rmSync(tmp, { force: true });
    throw e;
  }
}
