import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { globSync, isDynamicPattern } from "tinyglobby";
import { UsageError } from "./output.js";

/** Expands globs (quoted by the user, or from a shell without globbing); a literal path must exist. */
export function expandFileArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    if (isDynamicPattern(arg)) {
      const matches = globSync(arg, { onlyFiles: true, expandDirectories: false }).sort();
      if (matches.length === 0) throw new UsageError(`no file matches ${arg}`);
      out.push(...matches);
    } else {
      if (!existsSync(arg)) throw new UsageError(`cannot read ${arg}: no such file`);
      out.push(arg);
    }
  }
  return [...new Set(out)];
}

/** Writes through a temporary file and a rename, so a crash never leaves a half-written file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
