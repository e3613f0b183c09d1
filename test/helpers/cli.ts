import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { root } from "./specs.js";

/** Runs the installed CLI the way a user would, without colours. */
export function mdr(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [`${root}bin/mdr.js`, ...args], { encoding: "utf8", cwd: root, env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** User errors never print a stack trace. */
export function assertNoStack(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at .*:\d+:\d+\)?\n/, "no stack trace");
}
