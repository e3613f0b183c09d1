// Preloaded into a measured `mdr` process (`node --import …/peak-rss.js bin/mdr.js …`): prints the
// process's peak resident memory (Linux VmHWM) to stderr when it exits.
import { readFileSync } from "node:fs";

process.on("exit", () => {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  if (hwm) process.stderr.write(`peak_rss_bytes ${Number(hwm[1]) * 1024}\n`);
});
