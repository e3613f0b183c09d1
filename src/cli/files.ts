import { existsSync } from "node:fs";
import { basename, dirname } from "node:path";
import { writeFilesAtomic } from "../runtime/output.js";
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

/** Writes one file atomically (temporary file, fsync, rename). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  writeFilesAtomic(dirname(path), { [basename(path)]: data });
}
