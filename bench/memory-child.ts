// Child process of the training benchmark: trains steps with one extra table of `rows` rows and
// reports its peak resident memory, so the parent can compare it with the table's own bytes.
import { readFileSync } from "node:fs";
import { measureTraining, withBigTable } from "./training.js";

/**
 * Peak resident memory of this process. Linux's VmHWM belongs to the process image, whereas getrusage's
 * maxrss survives exec and would report the parent's peak when that was larger.
 */
function peakRss(): number {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

const rows = Number(process.argv[2]);
await measureTraining(withBigTable(rows), "sparse", 512, 1, 1);
process.stdout.write(JSON.stringify({ rows, max_rss_bytes: peakRss() }) + "\n");
