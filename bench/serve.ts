import autocannon from "autocannon";
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Manifest } from "../src/compiler/inference.js";
import { compileModelFolder } from "../src/runtime/model-folder.js";
import { predict } from "../src/runtime/predict.js";
import { syntheticRows } from "../src/runtime/synthetic-rows.js";
import { servedInputs } from "../src/serve/protocol.js";
import { loadSpec, root } from "./util.js";

// `mdr serve` under load from autocannon, beside `mdr predict` on the same model and machine in the same
// run. The server is a child process with one ONNX Runtime thread, so the load generator has the other core.

export interface ServeRow extends Record<string, string | number> {
  batching: string;
  rows_per_request: number;
  concurrency: number;
  requests_per_s: number;
  rows_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

/** A v2 infer body for raw rows: numbers for FP32 and INT64 inputs, text for BYTES. */
function inferBody(manifest: Manifest, rows: Record<string, unknown>[]): string {
  return JSON.stringify({
    inputs: servedInputs(manifest).map((i) => ({
      name: i.name, datatype: i.datatype, shape: [rows.length], data: rows.map((r) => (i.datatype === "BYTES" ? String(r[i.column]) : Number(r[i.column]))),
    })),
  });
}

async function startServer(dir: string, batching: boolean): Promise<{ child: ChildProcess; url: string }> {
  const args = [`${root}bin/mdr.js`, "serve", dir, "--port", "0", "--threads", "1", ...(batching ? [] : ["--no-batching"])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = err.match(/at (http:\/\/[^/\s]+)\//);
      if (m && err.includes("ready;")) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error(`mdr serve exited: ${err}`)));
  });
  return { child, url };
}

/** Latency percentiles of 3,000 requests (POST with a body, else GET) sent one after another on one keep-alive connection (autocannon reports whole milliseconds). */
async function sequentialLatency(url: string, body: string): Promise<{ p50: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = () => new Promise<void>((resolve, reject) => {
    const headers = body ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } : {};
    const req = http.request(url, { method: body ? "POST" : "GET", agent, headers }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(body || undefined);
  });
  const times: number[] = [];
  for (let i = 0; i < 3300; i++) {
    const t = performance.now();
    await once();
    if (i >= 300) times.push(performance.now() - t);
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  const q = (p: number) => Number(times[Math.floor(p * (times.length - 1))].toFixed(3));
  return { p50: q(0.5), p99: q(0.99) };
}

async function load(url: string, body: string, connections: number, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url, ...(body ? { method: "POST", headers: { "content-type": "application/json" }, body } : {}), connections, duration: seconds, pipelining: 1 });
}

export async function benchServe(): Promise<{ rows: ServeRow[]; summary: Record<string, number> }> {
  const spec = loadSpec(`${root}bench/specs/cesaa_small.mdr`);
  const tmp = mkdtempSync(join(tmpdir(), "mdr-bench-serve-"));
  const dir = join(tmp, "model");
  await compileModelFolder(spec, dir, { trainStep: false });
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;

  // The reference: `mdr predict` over a CSV (read, encode, run, write), one ORT thread.
  const csvRows = syntheticRows(spec, 200_000, 7).map((r) => r.values);
  const cols = Object.keys(csvRows[0]);
  writeFileSync(join(tmp, "rows.csv"), [cols.join(","), ...csvRows.map((r) => cols.map((c) => r[c]).join(","))].join("\n") + "\n");
  const t0 = performance.now();
  await predict({ model: dir, data: join(tmp, "rows.csv"), out: join(tmp, "p.csv"), threads: 1 });
  const predictRowsPerS = Math.round(csvRows.length / ((performance.now() - t0) / 1000));
  console.log(`  mdr predict (CSV in, CSV out, 1 thread): ${predictRowsPerS.toLocaleString("en-US")} rows/s`);

  const rows: ServeRow[] = [];
  let ceiling = 0;
  let single = { p50: 0, p99: 0 };
  let floor = { p50: 0, p99: 0 };
  for (const batching of [true, false]) {
    const { child, url } = await startServer(dir, batching);
    try {
      if (batching) {
        // What HTTP alone reaches here: a health check answered by the same server, same load generator.
        ceiling = Math.round((await load(`${url}/v2/health/live`, "", 64, 3)).requests.average);
        console.log(`  HTTP ceiling (GET /v2/health/live, concurrency 64): ${ceiling.toLocaleString("en-US")} requests/s`);
        floor = await sequentialLatency(`${url}/v2/health/live`, "");
        single = await sequentialLatency(`${url}/v2/models/${manifest.model}/infer`, inferBody(manifest, csvRows.slice(0, 1)));
        console.log(`  one client, one request at a time: infer (1 row) p50 ${single.p50} ms, p99 ${single.p99} ms; GET /v2/health/live p50 ${floor.p50} ms, p99 ${floor.p99} ms`);
      }
      for (const perRequest of [1, 32]) {
        const body = inferBody(manifest, csvRows.slice(0, perRequest));
        const target = `${url}/v2/models/${manifest.model}/infer`;
        await load(target, body, 8, 1); // warm-up
        for (const c of [1, 16, 64]) {
          const r = await load(target, body, c, 4);
          const row: ServeRow = {
            batching: batching ? "on" : "off", rows_per_request: perRequest, concurrency: c,
            requests_per_s: Math.round(r.requests.average), rows_per_s: Math.round(r.requests.average * perRequest),
            p50_ms: r.latency.p50, p99_ms: r.latency.p99, errors: r.errors + r.non2xx,
          };
          rows.push(row);
          console.log(`  batching ${row.batching.padEnd(3)} ${String(perRequest).padStart(2)} rows/request, concurrency ${String(c).padStart(2)}: ${row.rows_per_s.toLocaleString("en-US").padStart(8)} rows/s, p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms, errors ${row.errors}`);
        }
      }
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  const at = (b: string, n: number, c: number) => rows.find((r) => r.batching === b && r.rows_per_request === n && r.concurrency === c)!;
  return {
    rows: [...rows, { batching: "mdr predict", rows_per_request: 0, concurrency: 0, requests_per_s: 0, rows_per_s: predictRowsPerS, p50_ms: 0, p99_ms: 0, errors: 0 }],
    summary: {
      predict_rows_per_s: predictRowsPerS,
      served_c64_32rows_over_predict: round(at("on", 32, 64).rows_per_s / predictRowsPerS),
      served_c64_1row_over_predict: round(at("on", 1, 64).rows_per_s / predictRowsPerS),
      p50_ms_c1_1row: single.p50,
      p99_ms_c1_1row: single.p99,
      p50_ms_health_check: floor.p50,
      p99_ms_health_check: floor.p99,
      http_ceiling_requests_per_s: ceiling,
      served_c64_1row_over_http_ceiling: round(at("on", 1, 64).requests_per_s / ceiling),
      batching_gain_c64_1row: round(at("on", 1, 64).rows_per_s / at("off", 1, 64).rows_per_s),
      batching_gain_c64_32rows: round(at("on", 32, 64).rows_per_s / at("off", 32, 64).rows_per_s),
    },
  };
}

function round(x: number): number {
  return Number(x.toFixed(2));
}
