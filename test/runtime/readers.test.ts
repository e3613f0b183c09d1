import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openRows } from "../../src/runtime/readers.js";
import { bufferedShuffle, rowCodec, WaitingRows } from "../../src/runtime/shuffle.js";
import type { RawRow } from "../../src/runtime/cells.js";

const dir = mkdtempSync(join(tmpdir(), "mdr-readers-"));

async function all(rows: AsyncIterable<RawRow>): Promise<RawRow[]> {
  const out: RawRow[] = [];
  for await (const r of rows) out.push(r);
  return out;
}

/** A source's rows taken through `chunks()`, and how many chunks they came in. */
async function chunked(source: { chunks(): AsyncIterable<Iterable<RawRow>> }): Promise<{ rows: RawRow[]; chunks: number }> {
  const rows: RawRow[] = [];
  let chunks = 0;
  for await (const chunk of source.chunks()) {
    chunks++;
    for (const r of chunk) rows.push(r);
  }
  return { rows, chunks };
}

test("CSV parsed in a worker gives the same rows, in order, as on the main thread", async () => {
  const lines = ["a,b,c", ...Array.from({ length: 5000 }, (_, i) => `${i},"x, ${i}",${i % 7 === 0 ? "" : "\"q\"\"z\""}`)];
  writeFileSync(join(dir, "big.csv"), lines.join("\r\n") + "\r\n");
  const worker = openRows(join(dir, "big.csv"), { positions: false, worker: true });
  assert.deepEqual(await worker.columns(), ["a", "b", "c"]);
  const main = await all(openRows(join(dir, "big.csv"), { positions: false }).rows());
  assert.deepEqual(await all(worker.rows()), main);
  assert.deepEqual((await chunked(openRows(join(dir, "big.csv"), { positions: false, worker: true }))).rows, main);
  assert.equal(main.length, 5000);
  assert.deepEqual(main[1].values, { a: "1", b: "x, 1", c: 'q"z' });
});

test("passes without positions split plain CSV natively and read exactly what csv-parse reads, across chunks and on a late quote", async () => {
  // Over 1 MiB (several read chunks), multi-byte text cut by chunk ends, blank lines, a BOM, no final newline.
  const body = Array.from({ length: 60_000 }, (_, i) => `${i},naïve ${i % 13},日本${i}😀,${i % 500 === 0 ? "" : i * 0.5}`);
  const variants: Record<string, string> = {
    plain: "\ufeffid,text,wide,x\n" + body.map((l, i) => (i % 997 === 0 ? `${l}\n` : l)).join("\n"),
    "late quote": "id,text,wide,x\n" + body.join("\n") + '\n1,"a, ""quoted"" value",z,2\n',
    crlf: "id,text,wide,x\r\n" + body.join("\r\n") + "\r\n\r\n1,2,3,4\r",
    cr: "id,text,wide,x\r" + body.slice(0, 2000).join("\r") + "\r",
    // The first row's CR is the last byte of the first 1 MiB read, its LF the first of the next.
    "crlf cut": "id,text,wide,x\r\n0," + "a".repeat(2 ** 20 - 23) + ",w,1\r\n" + body.slice(0, 3000).join("\r\n") + "\r\n",
    // Line ends that differ from the first line's stay in the field for csv-parse.
    "crlf then lf": "id,text,wide,x\r\n" + body.slice(0, 3000).join("\r\n") + "\r\n1,a\nb,c,d\r\n2,e,f,g\r\n",
    "lf then crlf": "id,text,wide,x\n" + body.slice(0, 3000).join("\n") + "\n1,a,b,c\r\n2,e,f,g\n",
  };
  for (const [name, text] of Object.entries(variants)) {
    const file = join(dir, `${name.replace(" ", "-")}.csv`);
    writeFileSync(file, text);
    const exact = await all(openRows(file).rows());
    const fast = await all(openRows(file, { positions: false }).rows());
    assert.equal(fast.length, exact.length, name);
    assert.ok(exact.length >= 2000, name);
    assert.deepEqual(fast.map((r) => r.values), exact.map((r) => r.values), name);
    // In chunks (columns asked for first, as the training loop does), the same rows again.
    const source = openRows(file, { positions: false });
    assert.deepEqual(await source.columns(), ["id", "text", "wide", "x"], name);
    const inChunks = await chunked(source);
    assert.deepEqual(inChunks.rows.map((r) => r.values), exact.map((r) => r.values), name);
    if (name === "plain") assert.ok(inChunks.chunks >= 3 && inChunks.chunks < 100, `a read's rows per chunk, not one each: ${inChunks.chunks}`);
  }
  writeFileSync(join(dir, "ragged-late.csv"), "a,b\n" + "1,2\n".repeat(100_000) + "3\n");
  await assert.rejects(all(openRows(join(dir, "ragged-late.csv"), { positions: false }).rows()), /ragged-late\.csv:100002: row has 1 fields but the header has 2/);
});

test("a cell holding the packing separator crosses from the worker intact", async () => {
  writeFileSync(join(dir, "nul.csv"), "a,b\n1,x\u0000y\n2,z\n");
  const rows = await all(openRows(join(dir, "nul.csv"), { positions: false, worker: true }).rows());
  assert.deepEqual(rows.map((r) => r.values), [{ a: "1", b: "x\u0000y" }, { a: "2", b: "z" }]);
  const shuffled = await all(bufferedShuffle(openRows(join(dir, "nul.csv"), { positions: false }).rows(), 10, 1, "s", rowCodec()));
  assert.deepEqual(shuffled.map((r) => r.values.b).sort(), ["x\u0000y", "z"]);
});

test("a CSV error found in the worker is the same positioned data error", async () => {
  writeFileSync(join(dir, "ragged.csv"), "a,b\n1,2\n3\n");
  await assert.rejects(all(openRows(join(dir, "ragged.csv"), { positions: false, worker: true }).rows()), /ragged\.csv:3: row has 1 fields but the header has 2/);
});

test("rows packed in the shuffle buffer come out as they went in", async () => {
  async function* source(): AsyncGenerator<RawRow> {
    for (let i = 0; i < 300; i++) yield { values: { x: String(i), y: i % 3 === 0 ? "" : `v${i}` }, line: i + 2 };
    yield { values: { x: 7, y: null }, line: 999 }; // JSON-like values are kept as they are
  }
  const plain = await all(bufferedShuffle(source(), 50, 1, "s"));
  const packed = await all(bufferedShuffle(source(), 50, 1, "s", rowCodec()));
  assert.deepEqual(packed, plain);
  assert.notDeepEqual(plain.map((r) => r.line), [...Array.from({ length: 300 }, (_, i) => i + 2), 999], "the order is shuffled");
});

test("the shuffle buffer's byte store gives back every value it was given, across compactions", () => {
  const slots = new WaitingRows<unknown>(40);
  const mirror: unknown[] = [];
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const values = ["", "plain", "ünïcödé ✓ 𝄞", "a\ud800b", "x".repeat(5000), { kept: "as is" }, 42, new Int32Array(0), Int32Array.of(-1, 2 ** 31 - 1, -(2 ** 31))];
  // Strings of every length between records, so records land at every byte offset before alignment.
  const pick = (k: number) => (k < values.length ? values[k] : k % 3 === 0 ? Int32Array.from({ length: k % 23 }, (_, i) => k * 1000 + i - 7) : `row ${k} ${"y".repeat(k % 97)}`);
  for (let i = 0; i < 40; i++) {
    slots.push(pick(i));
    mirror.push(pick(i));
  }
  for (let n = 0; n < 20000; n++) {
    const i = Math.floor(rnd() * 40);
    if (rnd() < 0.2) {
      const j = Math.floor(rnd() * 40);
      slots.swap(i, j);
      [mirror[i], mirror[j]] = [mirror[j], mirror[i]];
    } else {
      const v = pick(Math.floor(rnd() * 300));
      slots.set(i, v);
      mirror[i] = v;
    }
  }
  assert.deepEqual(Array.from({ length: 40 }, (_, i) => slots.get(i)), mirror);
  // A record behind a string of odd length, moved by a compaction, still reads back whole.
  const moved = new WaitingRows<unknown>(3);
  moved.push("abc");
  moved.push(Int32Array.of(1, -2, 3));
  moved.push("x".repeat(70_000));
  assert.deepEqual([moved.get(0), moved.get(1)], ["abc", Int32Array.of(1, -2, 3)]);
});
