// Child process of the training benchmark: trains steps with one extra table of `rows` rows and
// reports its peak resident memory, so the parent can compare it with the table's own bytes.
import { measureTraining, withBigTable } from "./training.js";

const rows = Number(process.argv[2]);
await measureTraining(withBigTable(rows), "sparse", 512, 1, 1);
process.stdout.write(JSON.stringify({ rows, max_rss_bytes: process.resourceUsage().maxRSS * 1024 }) + "\n");
