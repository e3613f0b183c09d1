import { createSourceFile } from "../src/diagnostics/source.js";
import { compileSpecSource } from "../src/compiler/frontend.js";
import { exampleSources } from "./util.js";

/** Front end: text → canonical spec for 200 specs in one process (the `mdr validate` workload in CI). */
export function benchParseCheck(): Record<string, number> {
  const sources = exampleSources();
  const files = Array.from({ length: 200 }, (_, i) => createSourceFile(`spec${i}.mdr`, sources[i % sources.length].replace(/model (\w+)/, `model $1_${i}`)));
  for (const f of files.slice(0, 20)) compileSpecSource(f); // warm-up: JIT, one-off parser analysis
  const t0 = performance.now();
  let errors = 0;
  for (const f of files) errors += compileSpecSource(f).diagnostics.length;
  const ms = performance.now() - t0;
  if (errors) throw new Error("bench specs must be clean");
  return { specs: files.length, total_ms: round(ms), ms_per_spec: round(ms / files.length, 3) };
}

function round(x: number, digits = 1): number {
  return Number(x.toFixed(digits));
}
