// Preloaded into a measured `mdr` process (`node --import …/peak-rss.js bin/mdr.js …`): prints the
// process's peak resident memory (Linux VmHWM) to stderr when it exits.
import { readFileSync } from "node:fs";
import { isMainThread } from "node:worker_threads";

// Worker threads load preloaded modules too, and one that ends early would report the peak so far.
if (isMainThread) process.on("exit", () => {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  if (hwm) process.stderr.write(`peak_rss_bytes ${Number(hwm[1]) * 1024}\n`);
});
