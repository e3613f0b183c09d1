import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Manifest } from "../../src/compiler/inference.js";
import { compileModelFolder } from "../../src/runtime/model-folder.js";
import { serve, type Server } from "../../src/serve/server.js";
import type { Spec } from "../../src/spec/types.js";
import { assertNoStack, mdr } from "../helpers/cli.js";
import { randomRows, syntheticData } from "../helpers/models.js";
import { expected, tensorsOf } from "../helpers/serve.js";
import { cesaaArch, compileText, everyFieldModel, root, withArchitecture } from "../helpers/specs.js";

// The real server on a free port, spoken to over HTTP: protocol conformance, bad requests, micro-batching,
// hot swap under load and draining on SIGTERM.

const spec = compileText(everyFieldModel("served")).spec!;
const strict = compileText(withArchitecture(cesaaArch)).spec!; // domain values a, b, c; unknown: error

const tmp = mkdtempSync(join(tmpdir(), "mdr-serve-"));
let server: Server;
let url: string;
const folders: Record<string, string> = {};

async function post(path: string, body: unknown, headers: Record<string, string> = { "content-type": "application/json" }): Promise<{ status: number; json: any }> {
  const r = await fetch(url + path, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

async function get(path: string): Promise<{ status: number; json: any }> {
  const r = await fetch(url + path);
  return { status: r.status, json: await r.json() };
}

const data = syntheticData(spec);
const rows = randomRows(spec, data, 40, 3).map((r) => ({ ...r, dom: r.dom === "undeclared" ? "a" : r.dom }));

before(async () => {
  folders.a = join(tmp, "a");
  folders.b = join(tmp, "b");
  folders.strict = join(tmp, "strict");
  await compileModelFolder(spec, folders.a);
  await compileModelFolder({ ...structuredClone(spec), train: { ...spec.train, seed: 99 } } as Spec, folders.b);
  await compileModelFolder(strict, folders.strict);
  symlinkSync(folders.a, join(tmp, "live"));
  server = await serve({ models: { m: join(tmp, "live"), strict: folders.strict }, port: 0, maxBodyBytes: 256 * 1024, maxDelayMs: 2, threads: 1 });
  url = server.url;
});

after(async () => {
  await server?.close();
});

test("v2 endpoints: server and model metadata, health, readiness, versions", async () => {
  const s = await get("/v2");
  assert.equal(s.json.name, "mdrc");
  assert.deepEqual((await get("/v2/health/live")).status, 200);
  assert.deepEqual(await get("/v2/health/ready"), { status: 200, json: { ready: true } });
  const m = await get("/v2/models/m");
  assert.equal(m.status, 200);
  assert.equal(m.json.name, "m");
  assert.deepEqual(m.json.versions, ["1"]);
  const manifest = JSON.parse(readFileSync(join(folders.a, "manifest.json"), "utf8")) as Manifest;
  assert.deepEqual(m.json.inputs.map((i: { name: string }) => i.name), manifest.inputs.map((i) => i.name));
  const types = Object.fromEntries(m.json.inputs.map((i: { name: string; datatype: string; shape: number[] }) => [i.name, `${i.datatype}${JSON.stringify(i.shape)}`]));
  assert.equal(types.price, "FP32[-1]");
  assert.equal(types.slot, "INT64[-1]");
  assert.equal(types.item, "BYTES[-1]");
  assert.equal(types.bag, "BYTES[-1]", "a multi-valued field is one string per row");
  assert.equal(types.dom, "BYTES[-1]");
  assert.deepEqual(m.json.outputs[0], { name: "probability", datatype: "FP32", shape: [-1] });
  assert.equal((await get("/v2/models/m/versions/1")).status, 200);
  assert.equal((await get("/v2/models/m/ready")).status, 200);
  const old = await get("/v2/models/m/versions/7");
  assert.equal(old.status, 404);
  assert.match(old.json.error, /version 7 of model 'm' is not loaded/);
  const none = await get("/v2/models/nope");
  assert.equal(none.status, 404);
  assert.match(none.json.error, /no model named 'nope'/);
});

test("infer returns each row's probability, as mdr predict computes it, for [N] and [N, 1] tensors", async () => {
  const manifest = JSON.parse(readFileSync(join(folders.a, "manifest.json"), "utf8")) as Manifest;
  const want = await expected(folders.a, rows);
  for (const shape2d of [false, true]) {
    const r = await post("/v2/models/m/infer", { id: "req-7", inputs: tensorsOf(manifest, rows, shape2d) });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.id, "req-7");
    assert.equal(r.json.model_name, "m");
    const p = r.json.outputs.find((o: { name: string }) => o.name === "probability");
    assert.deepEqual(p.shape, [rows.length]);
    assert.equal(p.datatype, "FP32");
    p.data.forEach((x: number, i: number) => assert.ok(Math.abs(x - want[i]) < 1e-6, `row ${i}: ${x} vs ${want[i]}`));
  }
  const only = await post("/v2/models/m/infer", { inputs: tensorsOf(manifest, rows.slice(0, 2)), outputs: [{ name: "logit" }] });
  assert.deepEqual(only.json.outputs.map((o: { name: string }) => o.name), ["logit"]);
  const v1 = await post("/v1/models/m:predict", { instances: rows.slice(0, 5) });
  assert.equal(v1.status, 200, JSON.stringify(v1.json));
  v1.json.predictions.forEach((x: number, i: number) => assert.ok(Math.abs(x - want[i]) < 1e-6));
});

test("concurrent requests are coalesced into shared runs and each gets exactly its own rows back", async () => {
  const manifest = JSON.parse(readFileSync(join(folders.a, "manifest.json"), "utf8")) as Manifest;
  const want = await expected(folders.a, rows);
  const before = await batchCounts();
  const requests = Array.from({ length: 60 }, (_, k) => {
    const start = k % 30;
    const n = 1 + (k % 4);
    return { start, n, promise: post("/v2/models/m/infer", { inputs: tensorsOf(manifest, rows.slice(start, start + n)) }) };
  });
  for (const { start, n, promise } of requests) {
    const r = await promise;
    assert.equal(r.status, 200);
    const p = r.json.outputs[0].data as number[];
    assert.equal(p.length, n);
    p.forEach((x, i) => assert.ok(Math.abs(x - want[start + i]) < 1e-6, `request rows ${start}+${i}`));
  }
  const afterCounts = await batchCounts();
  const runs = afterCounts.runs - before.runs;
  const coalesced = afterCounts.requests - before.requests;
  assert.equal(coalesced, 60);
  assert.ok(runs < 60, `60 concurrent requests ran in ${runs} runs`);
});

async function batchCounts(): Promise<{ runs: number; requests: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const num = (re: RegExp) => Number(text.match(re)?.[1] ?? 0);
  return { runs: num(/^mdr_batch_requests_count\{model="m"\} (\d+)/m), requests: num(/^mdr_batch_requests_sum\{model="m"\} (\d+)/m) };
}

test("every bad request gets a 4xx with a JSON error naming the input and the problem; none crashes the server", async () => {
  const manifest = JSON.parse(readFileSync(join(folders.a, "manifest.json"), "utf8")) as Manifest;
  const good = () => tensorsOf(manifest, rows.slice(0, 2)) as { name: string; datatype: string; shape: number[]; data: unknown[] }[];
  const edit = (name: string, change: (t: { name: string; datatype: string; shape: number[]; data: unknown[] }) => void) => {
    const ts = good();
    change(ts.find((t) => t.name === name)!);
    return { inputs: ts };
  };
  const cases: [string, string, unknown, number, RegExp][] = [
    ["missing input", "/v2/models/m/infer", { inputs: good().filter((t) => t.name !== "price") }, 400, /missing input 'price'/],
    ["wrong datatype", "/v2/models/m/infer", edit("price", (t) => (t.datatype = "BYTES")), 400, /input 'price' has datatype BYTES; the model expects FP32/],
    ["wrong shape", "/v2/models/m/infer", edit("item", (t) => (t.shape = [1, 2])), 400, /input 'item' has shape \[1, 2\]/],
    ["shape and data disagree", "/v2/models/m/infer", edit("item", (t) => (t.shape = [3])), 400, /input 'item' has shape \[3\] but 2 values/],
    ["row counts differ", "/v2/models/m/infer", edit("item", (t) => { t.shape = [1]; t.data = ["x"]; }), 400, /different row counts/],
    ["unknown input", "/v2/models/m/infer", { inputs: [...good(), { name: "extra", datatype: "BYTES", shape: [2], data: ["a", "b"] }] }, 400, /'extra' is not an input of model 'm'/],
    ["input given twice", "/v2/models/m/infer", { inputs: [...good(), good()[0]] }, 400, /given twice/],
    ["a string where a number goes", "/v2/models/m/infer", edit("price", (t) => (t.data = ["cheap", 1])), 400, /input 'price', row 0: "cheap" is not a number/],
    ["a number beyond float32", "/v2/models/m/infer", edit("price", (t) => (t.data = [1, 1e308])), 400, /row 1: 'price' is 1e\+308, outside the range of a 32-bit float/],
    ["a fraction as a range id", "/v2/models/m/infer", edit("slot", (t) => (t.data = [2, 3.5])), 400, /row 1: 'slot' must be a whole number/],
    ["a list inside a BYTES tensor", "/v2/models/m/infer", edit("bag", (t) => (t.data = [["a"], "b"])), 400, /input 'bag', row 0: \["a"\] is not a string/],
    ["no inputs list", "/v2/models/m/infer", { input: [] }, 400, /needs an 'inputs' list/],
    ["no rows", "/v2/models/m/infer", { inputs: good().map((t) => ({ ...t, shape: [0], data: [] })) }, 400, /no rows/],
    ["unknown output", "/v2/models/m/infer", { inputs: good(), outputs: [{ name: "score" }] }, 400, /"score" is not an output/],
    ["undeclared domain under unknown: error", "/v1/models/strict:predict", { instances: [{ user: "u", age: 3, d: "zz" }] }, 400, /instance 0: domain value 'zz' is not one of a, b, c/],
    ["malformed JSON", "/v2/models/m/infer", "{\"inputs\": [", 400, /JSON/],
    ["body over the limit", "/v2/models/m/infer", JSON.stringify({ inputs: [{ name: "item", datatype: "BYTES", shape: [1], data: ["x".repeat(300 * 1024)] }] }), 413, /larger than the server's limit/],
    ["unknown model", "/v2/models/nope/infer", { inputs: good() }, 404, /no model named 'nope'/],
    ["unknown endpoint", "/v2/models/m/explain", { inputs: good() }, 404, /no endpoint POST/],
    ["instances not a list", "/v1/models/m:predict", { instances: { a: 1 } }, 400, /"instances"/],
    ["prototype pollution", "/v2/models/m/infer", "{\"__proto__\": {\"x\": 1}, \"inputs\": []}", 400, /./],
  ];
  for (const [what, path, body, status, message] of cases) {
    const r = await post(path, body);
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json?.error, "string", `${what}: the protocol's error format`);
    assert.match(r.json.error, message, what);
  }
  const text = await post("/v2/models/m/infer", "inputs=1", { "content-type": "text/plain" });
  assert.equal(text.status, 415);
  assert.equal((await get("/v2/health/live")).status, 200, "the server is still up");
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.doesNotMatch(metrics, /code="5\d\d"/, "no 5xx answered");
  assert.match(metrics, /mdr_request_errors_total\{model="m",kind="bad_request"\} \d+/);
  assert.doesNotMatch(metrics, /model="nope"/, "an unknown model name is not a metrics label");
});

test("hot swap under load: no failed request, and every answer comes from exactly one version", async () => {
  const manifest = JSON.parse(readFileSync(join(folders.a, "manifest.json"), "utf8")) as Manifest;
  const wantA = await expected(folders.a, rows);
  const wantB = await expected(folders.b, rows);
  assert.ok(Math.abs(wantA[0] - wantB[0]) > 1e-4, "the two versions differ");
  const start = Number((await get("/v2/models/m")).json.versions[0]);
  let stop = false;
  const seen = new Map<string, number>();
  const worker = async () => {
    while (!stop) {
      const r = await post("/v2/models/m/infer", { inputs: tensorsOf(manifest, rows.slice(0, 8)) });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const v = Number(r.json.model_version);
      const want = (v - start) % 2 === 0 ? wantA : wantB;
      r.json.outputs[0].data.forEach((x: number, i: number) => assert.ok(Math.abs(x - want[i]) < 1e-6, `version ${v}, row ${i}: mixed or wrong weights`));
      seen.set(String(v), (seen.get(String(v)) ?? 0) + 1);
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  await new Promise((r) => setTimeout(r, 150));
  // Point the served folder at the new model (an atomic symlink swap) and ask for a reload.
  symlinkSync(folders.b, join(tmp, "live.new"));
  renameSync(join(tmp, "live.new"), join(tmp, "live"));
  const load = await post("/v2/repository/models/m/load", {});
  assert.equal(load.status, 200, JSON.stringify(load.json));
  assert.equal(load.json.version, String(start + 1));
  await new Promise((r) => setTimeout(r, 150));
  stop = true;
  await Promise.all(workers);
  assert.ok((seen.get(String(start)) ?? 0) > 0 && (seen.get(String(start + 1)) ?? 0) > 0, `both versions answered: ${JSON.stringify([...seen])}`);
  // A folder that does not load leaves the current version serving.
  symlinkSync(join(tmp, "missing"), join(tmp, "live.bad"));
  renameSync(join(tmp, "live.bad"), join(tmp, "live"));
  const bad = await post("/v2/repository/models/m/load", {});
  assert.equal(bad.status, 400);
  assert.match(bad.json.error, /did not load, and version \d+ stays/);
  assert.equal((await post("/v2/models/m/infer", { inputs: tensorsOf(manifest, rows.slice(0, 1)) })).status, 200);
});

test("SIGTERM: the server stops accepting, finishes every request in flight and exits 0; --log-requests logs each as a JSON line", async () => {
  const manifest = JSON.parse(readFileSync(join(folders.a, "manifest.json"), "utf8")) as Manifest;
  const child = spawn(process.execPath, [`${root}bin/mdr.js`, "serve", folders.a, "--port", "0", "--max-delay-ms", "300", "--threads", "1", "--log-requests"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = stderr.match(/at (http:\/\/[^/\s]+)\//);
      if (m && stderr.includes("ready;")) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error(`server exited: ${stderr}`)));
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const inFlight = Array.from({ length: 20 }, (_, k) => fetch(`${address}/v2/models/served/infer`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: tensorsOf(manifest, rows.slice(k, k + 1)) }),
  }).then((r) => r.status));
  await new Promise((r) => setTimeout(r, 100)); // the requests wait in the batcher (300 ms)
  child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 50));
  // A new request after SIGTERM is not accepted (the listener is closed, or the server answers 503).
  const late = await fetch(`${address}/v2/health/ready`).then((r) => r.status, () => "refused");
  assert.ok(late === "refused" || late === 503, `a request after SIGTERM got ${late}`);
  const statuses = await Promise.all(inFlight);
  assert.deepEqual(statuses, Array(20).fill(200), "no request in flight was lost");
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /SIGTERM: finishing requests in flight/);
  // --log-requests: one JSON line per request.
  const logged = stdout.trim().split("\n").map((l) => JSON.parse(l) as { msg: string; method?: string; url?: string; status?: number; ms?: number; model?: string }).filter((l) => l.msg === "request");
  assert.equal(logged.length, 20);
  for (const l of logged) {
    assert.equal(l.method, "POST");
    assert.equal(l.url, "/v2/models/served/infer");
    assert.equal(l.status, 200);
    assert.equal(l.model, "served");
    assert.ok(typeof l.ms === "number" && l.ms > 0);
  }
});

test("mdr serve refuses what it cannot serve, with one line and no stack", () => {
  const missing = mdr("serve", join(tmp, "nowhere"), "--port", "0");
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read .*nowhere/);
  assertNoStack(missing.err);
  const twice = mdr("serve", folders.a, folders.a, "--port", "0");
  assert.equal(twice.code, 2);
  assert.match(twice.err, /two models are named 'served'/);
  const badPort = mdr("serve", folders.a, "--port", "70000");
  assert.equal(badPort.code, 2);
});
