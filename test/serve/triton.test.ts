import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import onnxProto from "onnx-proto";
import ort from "onnxruntime-node";
import type { Manifest } from "../../src/compiler/inference.js";
import { exportTriton } from "../../src/export/triton.js";
import { compileModelFolder } from "../../src/runtime/model-folder.js";
import { serve, type Server } from "../../src/serve/server.js";
import { assertNoStack, mdr } from "../helpers/cli.js";
import { randomRows, syntheticData } from "../helpers/models.js";
import { expected, tensorsOf } from "../helpers/serve.js";
import { compileText, everyFieldModel, withArchitecture } from "../helpers/specs.js";
import { parseModelConfig, type TextMessage } from "../helpers/triton-config.js";

const { onnx } = onnxProto;
const spec = compileText(everyFieldModel("exported")).spec!;
const tmp = mkdtempSync(join(tmpdir(), "mdr-triton-"));
const folder = join(tmp, "model");
const repo = join(tmp, "repository");
const rows = randomRows(spec, syntheticData(spec), 30, 8).map((r) => ({ ...r, dom: r.dom === "undeclared" ? "c" : r.dom }));
let server: Server;

before(async () => {
  await compileModelFolder(spec, folder, { debugOutputs: true });
  server = await serve({ models: { exported: folder }, port: 0 });
});
after(async () => server?.close());

const ELEM: Record<number, string> = { 1: "TYPE_FP32", 7: "TYPE_INT64", 8: "TYPE_STRING" };
const one = (m: TextMessage, key: string) => m.get(key)?.[0];

test("mdr export triton writes a config.pbtxt valid against Triton's model configuration schema and consistent with the graph", async () => {
  const r = mdr("export", "triton", folder, "-o", repo);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /opset 20; multi-valued fields are split in the graph/);
  const config = parseModelConfig(readFileSync(join(repo, "exported", "config.pbtxt"), "utf8"));
  assert.equal(one(config, "name"), "exported");
  assert.equal(one(config, "backend"), "onnxruntime");
  assert.ok((one(config, "max_batch_size") as number) > 0);
  assert.ok(config.has("dynamic_batching"));
  const model = onnx.ModelProto.decode(readFileSync(join(repo, "exported", "1", "model.onnx")));
  assert.ok(model.opsetImport!.some((o) => (o.domain ?? "") === "" && Number(o.version) >= 20));
  assert.ok(model.graph!.node!.some((n) => n.opType === "StringSplit"), "multi-valued cells are split in the graph");
  // Triton adds the batch dimension: each tensor's dims are the graph's shape without it.
  const check = (kind: "input" | "output", graphTensors: onnxProto.onnx.IValueInfoProto[]) => {
    const declared = config.get(kind) as TextMessage[];
    assert.deepEqual(declared.map((t) => one(t, "name")), graphTensors.map((t) => t.name), `${kind} names`);
    declared.forEach((t, i) => {
      const g = graphTensors[i].type!.tensorType!;
      assert.equal(one(t, "data_type"), ELEM[g.elemType!], `${one(t, "name")} type`);
      const graphDims = g.shape!.dim!.slice(1).map((d) => Number(d.dimValue));
      const reshape = one(t, "reshape") as TextMessage | undefined;
      const shape = reshape ? (reshape.get("shape") ?? []) : (t.get("dims") as number[]);
      assert.deepEqual(shape, graphDims, `${one(t, "name")} shape`);
      if (reshape) assert.deepEqual(t.get("dims"), [1], "a batch-only tensor is dims [1] reshaped to []");
    });
  };
  check("input", model.graph!.input!);
  check("output", model.graph!.output!);
  const meta = Object.fromEntries(model.metadataProps!.map((p) => [p.key, p.value]));
  assert.equal(JSON.parse(meta["mdrc.domain"]!).values.join(","), "a,b,c");
  assert.equal(meta["mdrc.label"], spec.label);
  assert.ok(JSON.parse(meta["mdrc.inputs"]!).some((i: { column: string }) => i.column === "bag"));
  assert.match(meta["mdrc.spec_sha256"]!, /^[0-9a-f]{64}$/);
});

test("the tensors a client sends to mdr serve are the ones the exported model takes, with the same answers", async () => {
  const manifest = JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8")) as Manifest;
  const request = { inputs: tensorsOf(manifest, rows) as { name: string; datatype: string; shape: number[]; data: (string | number | null)[] }[] };
  const res = await fetch(`${server.url}/v2/models/exported/infer`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
  assert.equal(res.status, 200);
  const served = (await res.json()).outputs[0].data as number[];
  // The same tensors, as a Triton client would send them, straight into the exported model.
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of request.inputs) {
    if (t.datatype === "BYTES") feeds[t.name] = new ort.Tensor("string", t.data as string[], t.shape);
    else if (t.datatype === "FP32") feeds[t.name] = new ort.Tensor("float32", Float32Array.from(t.data, (x) => (x === null ? NaN : (x as number))), t.shape);
    else feeds[t.name] = new ort.Tensor("int64", BigInt64Array.from(t.data, (x) => BigInt(x as number)), t.shape);
  }
  const session = await ort.InferenceSession.create(join(repo, "exported", "1", "model.onnx"));
  const exported = Array.from((await session.run(feeds)).probability.data as Float32Array);
  const predicted = await expected(folder, rows);
  exported.forEach((p, i) => {
    assert.ok(Math.abs(p - served[i]) < 1e-6, `row ${i}: exported ${p}, served ${served[i]}`);
    assert.ok(Math.abs(p - predicted[i]) < 1e-6, `row ${i}: exported ${p}, mdr predict ${predicted[i]}`);
  });
});

test("export refuses to replace a model silently, and a model it cannot rebuild says what to do", async () => {
  const again = mdr("export", "triton", folder, "-o", repo);
  assert.equal(again.code, 2);
  assert.match(again.err, /exists; use --overwrite/);
  assert.equal(mdr("export", "triton", folder, "-o", repo, "--overwrite").code, 0);
  // No checkpoint beside the model: its weights cannot be recompiled with in-graph splitting.
  const bare = join(tmp, "bare");
  await compileModelFolder(spec, bare, { trainStep: false });
  const r = mdr("export", "triton", bare, "-o", repo, "--name", "bare");
  assert.equal(r.code, 2);
  assert.match(r.err, /--opset 20/);
  assertNoStack(r.err);
  assert.ok(!existsSync(join(repo, "bare")), "nothing half-written");
  // A model without multi-valued fields is exported as it is.
  const simple = join(tmp, "simple");
  await compileModelFolder(compileText(withArchitecture("  experts e { count: 1, layers: [4] }\n  tower { input: e, layers: [2] }")).spec!, simple, { trainStep: false });
  assert.equal(mdr("export", "triton", simple, "-o", repo).code, 0);
  assert.deepEqual(readFileSync(join(repo, "t", "1", "model.onnx")), readFileSync(join(simple, "model.onnx")));
  await exportTriton(simple, repo, { name: "t2" });
  assert.ok(existsSync(join(repo, "t2", "config.pbtxt")));
});

test("the config checker itself rejects what Triton would reject", () => {
  const ok = `name: "m"\nmax_batch_size: 8\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] } } ]\ndynamic_batching { }`;
  assert.doesNotThrow(() => parseModelConfig(ok));
  const bad: [string, RegExp][] = [
    [ok.replace("max_batch_size", "max_batch"), /no field 'max_batch'/],
    [ok.replace("TYPE_FP32", "TYPE_FLOAT32"), /not a DataType/],
    [ok.replace('name: "m"', "name: m"), /quoted string/],
    [ok + '\nname: "again"', /more than once/],
    [ok.replace("max_batch_size: 8", "max_batch_size: 8.5"), /integer/],
    [ok.replace("dims: [ 1 ]", 'dims: [ "1" ]'), /number/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseModelConfig(text), message);
});
