// `npm run bench [-- name…]`: runs the benchmarks, prints their tables, writes bench/results/.
import { benchInference } from "./inference.js";
import { benchParseCheck } from "./parse-check.js";
import { benchServe } from "./serve.js";
import { benchTraining } from "./training.js";
import { measureTrainMemory } from "./train-memory.js";
import { writeResults } from "./util.js";

/** A suite that measures rows and a summary of ratios, printed and written with its reference points. */
async function suite(name: string, title: string, run: () => Promise<{ rows: Record<string, string | number>[]; summary: Record<string, number | string> }>, reference: string[]) {
  console.log(`${title}:`);
  const { rows, summary } = await run();
  console.log("summary:");
  for (const [k, v] of Object.entries(summary)) console.log(`  ${k}: ${v}`);
  writeResults(name, rows, ["Summary (batch 4,096, one thread unless named):", "", ...Object.entries(summary).map(([k, v]) => `- ${k}: ${v}`), "", ...reference]);
}

const benches: Record<string, () => void | Promise<void>> = {
  "parse-check": () => {
    const r = benchParseCheck();
    console.log(`parse + check: ${r.specs} specs in ${r.total_ms} ms = ${r.ms_per_spec} ms per spec`);
    writeResults("parse-check", [r], ["Front end only (parse, lower, schema, semantic checks), one process, after a 20-spec warm-up."]);
  },
  inference: () => suite("inference", "inference (ONNX Runtime CPU, raw values in)", benchInference, [
    "Figures measured on another machine are no reference here (these machines differ up to 2.5× in speed): the ratios above were measured in this run.",
  ]),
  training: () => suite("training", "training steps (batches encoded beforehand, as the batch worker does; the ONNX Runtime step + rows written back)", benchTraining, [
    "Figures measured on another machine are no reference here (these machines differ up to 2.5× in speed): the ratios above were measured in this run.",
  ]),
  "train-memory": async () => {
    console.log("`mdr train` end to end (cesaa_small + a 10^6-id field, one epoch over 2·10^6 CSV rows, validated on 10^5, one thread):");
    const r = await measureTrainMemory();
    console.log(`  peak RSS ${r.peak_rss_mb} MB = ${r.ratio_to_big_table}× the 10^6-id table with its Adam state (${r.big_table_state_mb} MB), ${r.ratio_to_all_tables}× all tables with theirs (${r.all_tables_state_mb} MB)`);
    console.log(`  ${r.loop_rows_per_s} rows/s in the training loop, ${r.rows_per_s} for the whole command; the pure step does ${r.step_rows_per_s}: loop ${r.loop_over_step}×, command ${r.command_over_step}× of it`);
    writeResults("train-memory", [r as unknown as Record<string, number>], [
      "Peak resident memory (VmHWM) of one `mdr train` process, measured from outside; table state = values + Adam's two moments, 4 bytes each.",
      "The process also holds Node.js and ONNX Runtime themselves (about 130 MB before any data).",
      "The run evaluates a validation file of 10^5 rows after its epoch, as real runs do.",
      "rows_per_s: the whole command (start-up, the checking first passes over both files, the epoch, its evaluation, writing the run folder); loop_rows_per_s: the training loop as `mdr train` reports it; step_rows_per_s: the pure training step of the same spec and batch size on in-memory rows, one thread, the mean of its figures just before and just after the run (step_before, step_after).",
    ]);
  },
  serve: async () => {
    console.log("serving cesaa_small over HTTP (KServe v2 infer, autocannon):");
    const { rows, summary } = await benchServe();
    console.log("summary:");
    for (const [k, v] of Object.entries(summary)) console.log(`  ${k}: ${v}`);
    writeResults("serve", rows, [
      "Summary:", "", ...Object.entries(summary).map(([k, v]) => `- ${k}: ${v}`), "",
      "The server runs with one ONNX Runtime thread in its own process; autocannon has the other core. `mdr predict` reads and writes a 200,000-row CSV with one thread.",
      "Batching on: requests that arrive while a run is in progress are coalesced into the next run (--max-delay-ms 0). Off: --no-batching, one run per request.",
    ]);
  },
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length === 0 || wanted.includes(name)) await run();
}
