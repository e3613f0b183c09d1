// `npm run bench [-- name…]`: runs the benchmarks, prints their tables, writes bench/results/.
import { benchParseCheck } from "./parse-check.js";
import { writeResults } from "./util.js";

const benches: Record<string, () => void> = {
  "parse-check": () => {
    const r = benchParseCheck();
    console.log(`parse + check: ${r.specs} specs in ${r.total_ms} ms = ${r.ms_per_spec} ms per spec`);
    writeResults("parse-check", [r], ["Front end only (parse, lower, schema, semantic checks), one process, after a 20-spec warm-up."]);
  },
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length === 0 || wanted.includes(name)) run();
}
