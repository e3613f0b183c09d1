import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parquetReadObjects } from "hyparquet";
import { serve } from "../../src/serve/server.js";
import { assertNoStack, mdr } from "../helpers/cli.js";

// A learnable retrieval task: in domain d, user u likes items (u·7 + j) mod 20 of the items whose id ≡ d (mod 3).
const dir = mkdtempSync(join(tmpdir(), "mdr-retrieval-cli-"));
const ITEMS = 60;
const tags = (i: number) => [`t${i % 3}`, `s${i % 5}`].join("|");

function pairs(n: number, seed: number): string {
  const lines = ["user,d,item,tags,age"];
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let r = 0; r < n; r++) {
    const u = Math.floor(rnd() * 30);
    const d = Math.floor(rnd() * 3);
    const item = (((u * 7 + Math.floor(rnd() * 3)) % 20) * 3 + d) % ITEMS;
    lines.push(`u${u},${"abc"[d]},i${item},${tags(item)},${20 + (u % 40)}`);
  }
  return lines.join("\n") + "\n";
}

writeFileSync(join(dir, "train.csv"), pairs(3000, 1));
writeFileSync(join(dir, "valid.csv"), pairs(200, 2));
writeFileSync(join(dir, "test.csv"), pairs(200, 3));
writeFileSync(join(dir, "items.csv"), ["item,tags", ...Array.from({ length: ITEMS }, (_, i) => `i${i},${tags(i)}`)].join("\n") + "\n");
writeFileSync(join(dir, "items-no-tags.csv"), ["item", ...Array.from({ length: ITEMS }, (_, i) => `i${i}`)].join("\n") + "\n");
writeFileSync(join(dir, "spec.mdr"), `
model synthetic_retrieval {
  task: retrieval
  domain d { values: [a, b, c] }
  query {
    features {
      categorical user { dim: 8 }
      numeric age { }
    }
    experts shared { scope: shared, count: 1, layers: [16] }
    experts specific { scope: routed, count: 4, layers: [16] }
    gate router { per: all, pools: [specific], type: topk, k: 2, inputs: [features, domain], always_on: [shared] }
    tower query_head { per: domain, input: router, layers: [16] }
  }
  item {
    id: "item"
    features {
      categorical item_id { column: "item", dim: 8 }
      multi_categorical tags { separator: "|", dim: 4 }
    }
    tower item_head { input: features, layers: [16] }
  }
  embedding { dim: 8, temperature: 0.1 }
  loss { softmax: 1, negatives: 8, mutual_information: 0.01 }
  train { batch_size: 128, epochs: 4, lr: 0.01, embedding_lr: 0.05, seed: 3 }
}
`);
const run = join(dir, "run");
const index = join(run, "index"); // where `mdr serve` looks for a retrieval model's index

test("mdr train, index, retrieve and eval on a retrieval spec", async () => {
  const trained = mdr("train", join(dir, "spec.mdr"), "--data", join(dir, "train.csv"), "--valid", join(dir, "valid.csv"), "-o", run, "--threads", "1");
  assert.equal(trained.code, 0, trained.err);
  for (const f of ["query_model.onnx", "item_model.onnx", "manifest.json", "metrics.jsonl", "run.json", "checkpoints/best.safetensors"]) assert.ok(existsSync(join(run, f)), f);
  assert.match(trained.out, /recall@100/);

  const indexed = mdr("index", run, "--items", join(dir, "items.csv"), "-o", index);
  assert.equal(indexed.code, 0, indexed.err);
  const buf = readFileSync(join(index, "items.parquet"));
  const items = (await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) })) as { item_id: string; vector: number[] }[];
  assert.equal(items.length, ITEMS);
  assert.equal(items[0].vector.length, 8);
  assert.ok(Math.abs(Math.hypot(...items[0].vector) - 1) < 1e-4, "normalised vectors");

  const out = join(dir, "top.csv");
  const retrieved = mdr("retrieve", run, "--index", index, "--data", join(dir, "test.csv"), "-k", "5", "-o", out);
  assert.equal(retrieved.code, 0, retrieved.err);
  const lines = readFileSync(out, "utf8").trim().split("\n");
  assert.equal(lines[0], "row,rank,item,score");
  assert.equal(lines.length, 1 + 200 * 5);
  assert.deepEqual(lines.slice(1, 6).map((l) => l.split(",")[1]), ["1", "2", "3", "4", "5"]);

  const evaluated = mdr("eval", run, "--data", join(dir, "test.csv"), "--items", join(dir, "items.csv"), "--index", index, "--json");
  assert.equal(evaluated.code, 0, evaluated.err);
  const m = JSON.parse(evaluated.out);
  assert.equal(m.rows, 200);
  assert.equal(m.items, ITEMS);
  // The task is learnable: far above the 10/60 a random ranking would recall.
  assert.ok(m.exact.overall.recall["@10"] > 0.5, `recall@10 ${m.exact.overall.recall["@10"]}`);
  assert.ok(m.index.recall_vs_exact["@100"] >= 0.95);
  assert.deepEqual(Object.keys(m.exact.domains), ["a", "b", "c"]);
});

test("mdr serve answers a retrieval model's rows with the index's top items, as mdr retrieve does", async () => {
  const server = await serve({ models: { syn: run }, port: 0, threads: 1 });
  try {
    const post = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const rows = readFileSync(join(dir, "test.csv"), "utf8").trim().split("\n").slice(1, 4).map((l) => l.split(","));
    const body = {
      inputs: [
        { name: "user", datatype: "BYTES", shape: [3], data: rows.map((r) => r[0]) },
        { name: "age", datatype: "FP32", shape: [3], data: rows.map((r) => Number(r[4])) },
        { name: "d", datatype: "BYTES", shape: [3], data: rows.map((r) => r[1]) },
      ],
      parameters: { top_k: 5 },
    };
    const res = await post("/v2/models/syn/infer", body);
    assert.equal(res.status, 200, await res.clone().text());
    const out = (await res.json()) as { outputs: { name: string; shape: number[]; data: (string | number)[] }[] };
    const ids = out.outputs.find((o) => o.name === "item_ids")!;
    assert.deepEqual(ids.shape, [3, 5]);
    assert.deepEqual(out.outputs.find((o) => o.name === "embedding")!.shape, [3, 8]);
    const top = readFileSync(join(dir, "top.csv"), "utf8").trim().split("\n").slice(1).filter((l) => Number(l.split(",")[0]) <= 4).map((l) => l.split(",")[2]);
    assert.deepEqual(ids.data, top, "the server's top items are mdr retrieve's for the same rows");
    const bad = await post("/v2/models/syn/infer", { ...body, parameters: { top_k: 0 } });
    assert.equal(bad.status, 400);
    const v1 = await post("/v1/models/syn:predict", { instances: [{ user: rows[0][0], age: Number(rows[0][4]), d: rows[0][1] }], parameters: { top_k: 2 } });
    assert.deepEqual(((await v1.json()) as { predictions: { item_ids: string[] }[] }).predictions[0].item_ids, top.slice(0, 2));
  } finally {
    await server.close();
  }
});

test("retrieval commands refuse bad inputs in one line and leave nothing behind", () => {
  const missing = mdr("index", run, "--items", join(dir, "items-no-tags.csv"), "-o", join(dir, "bad-index"));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /items-no-tags\.csv:1: missing column 'tags'/);
  assert.ok(!existsSync(join(dir, "bad-index")), "no index folder is left behind");
  assertNoStack(missing.err);

  const noItems = mdr("eval", run, "--data", join(dir, "test.csv"));
  assert.equal(noItems.code, 2);
  assert.match(noItems.err, /needs --items/);

  const again = mdr("train", join(dir, "spec.mdr"), "--data", join(dir, "train.csv"), "-o", run);
  assert.notEqual(again.code, 0);
  assert.match(again.err, /--overwrite|--resume/);

  const predict = mdr("predict", run, "--data", join(dir, "test.csv"), "-o", join(dir, "p.csv"));
  assert.notEqual(predict.code, 0);
  assert.match(predict.err, /retrieval model/);

  const wrongIndex = mdr("retrieve", join(dir, "run"), "--index", dir, "--data", join(dir, "test.csv"), "-o", join(dir, "x.csv"));
  assert.notEqual(wrongIndex.code, 0);
  assert.match(wrongIndex.err, /not an index folder/);
  for (const r of [noItems, again, predict, wrongIndex]) assertNoStack(r.err);
});
