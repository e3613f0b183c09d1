import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { test } from "node:test";
import { root } from "./helpers/specs.js";

// The pipeline, upstream first: a module imports only from its own folder or folders before it.
const pipeline = ["diagnostics", "syntax", "spec", "check", "format", "plan", "graph", "autodiff", "optim", "onnx", "compiler", "runtime", "serve", "export", "report", "cli"];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("imports only point upstream along the pipeline, and every source folder has its place in it", () => {
  const src = join(root, "src");
  const wrong: string[] = [];
  for (const file of sources(src)) {
    const from = file.slice(src.length + 1).split("/")[0];
    assert.ok(pipeline.includes(from), `src/${from} has a place in the pipeline`);
    for (const m of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
      const to = normalize(join(dirname(file), m[1])).slice(src.length + 1).split("/")[0];
      if (pipeline.indexOf(to) > pipeline.indexOf(from)) wrong.push(`${file.slice(root.length)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(wrong, []);
});
