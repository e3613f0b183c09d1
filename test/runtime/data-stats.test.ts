import assert from "node:assert/strict";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { csvParts, NotPlain, partRecords } from "../../src/runtime/csv-records.js";
import { checkEvaluationFile, summarizeTrainingData, vocabularyOrder } from "../../src/runtime/data-stats.js";
import { openRows } from "../../src/runtime/readers.js";
import { compileText, everyFieldModel } from "../helpers/specs.js";

const dir = mkdtempSync(join(tmpdir(), "mdr-data-stats-"));

async function partsRead(file: string, count: number): Promise<string[][]> {
  const split = csvParts(file, count);
  assert.ok(split && split.parts.length > 1, `${file} was cut`);
  const out: string[][] = [];
  for (const part of split.parts) for await (const records of partRecords(file, part, split.header.length)) for (const r of records) out.push(r.record);
  return out;
}

async function exactRead(file: string): Promise<string[][]> {
  const source = openRows(file);
  const columns = await source.columns();
  const out: string[][] = [];
  for await (const row of source.rows()) out.push(columns.map((c) => row.values[c] as string));
  return out;
}

test("a plain CSV cut into parts reads, part after part, exactly the rows csv-parse reads from the whole file", async () => {
  // Multi-byte text (a part may start anywhere in the bytes), blank lines, a BOM, no final line end.
  const body = Array.from({ length: 20_000 }, (_, i) => `${i},naïve ${i % 13},日本${i}😀,${i % 500 === 0 ? "" : i * 0.5}`);
  const variants: Record<string, string> = {
    lf: "\ufeffid,text,wide,x\n" + body.map((l, i) => (i % 997 === 0 ? `${l}\n` : l)).join("\n"),
    crlf: "id,text,wide,x\r\n" + body.join("\r\n") + "\r\n\r\n",
  };
  for (const [name, text] of Object.entries(variants)) {
    const file = join(dir, `parts-${name}.csv`);
    writeFileSync(file, text);
    const exact = await exactRead(file);
    assert.equal(exact.length, 20_000, name);
    for (const count of [2, 7, 64]) assert.deepEqual(await partsRead(file, count), exact, `${name}, ${count} parts`);
    assert.deepEqual(csvParts(file, 3)!.header, ["id", "text", "wide", "x"], name);
  }
});

test("a part holding text only csv-parse reads right says so, and a header that is not plain is not cut", async () => {
  const body = Array.from({ length: 5000 }, (_, i) => `${i},${i * 2}`).join("\n");
  const cases: Record<string, string> = {
    "late quote": `a,b\n${body}\n1,"x"\n`,
    "lf then crlf": `a,b\n${body}\n1,2\r\n3,4\n`,
  };
  for (const [name, text] of Object.entries(cases)) {
    const file = join(dir, `${name.replace(/ /g, "-")}.csv`);
    writeFileSync(file, text);
    await assert.rejects(partsRead(file, 4), NotPlain, name);
  }
  writeFileSync(join(dir, "quoted-header.csv"), `"a",b\n${body}\n`);
  assert.equal(csvParts(join(dir, "quoted-header.csv"), 4), undefined);
  writeFileSync(join(dir, "cr.csv"), `a,b\r${body.replace(/\n/g, "\r")}\r`);
  assert.equal(csvParts(join(dir, "cr.csv"), 4), undefined);
  writeFileSync(join(dir, "blank-first.csv"), `\na,b\n${body}\n`);
  assert.equal(csvParts(join(dir, "blank-first.csv"), 4), undefined);
});

/** Rows of everyFieldModel's columns (and a long note the model does not read), with what a plain count of them gives. */
function bigFile(rows: number, quoteAt?: number) {
  const header = "item,clicked,tag,slot,bag,price,raw,age,fee,visits,dom,label,note";
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const lines = [header];
  const counts = { item: new Map<string, number>(), bag: new Map<string, number>() };
  const count = (m: Map<string, number>, v: string) => m.set(v, (m.get(v) ?? 0) + 1);
  const raw: number[] = [];
  const price: number[] = [];
  for (let i = 0; i < rows; i++) {
    const item = `i${Math.floor(rnd() ** 2 * 3000)}`;
    const clicked = `i${Math.floor(rnd() * 4000)}`;
    const bag = [`t${Math.floor(rnd() * 50)}`, `t${Math.floor(rnd() * 50)}`];
    const p = Math.round(rnd() * 1e5) / 100;
    const r = Math.round((rnd() - 0.5) * 1e7) / 1000;
    count(counts.item, item);
    count(counts.item, clicked);
    for (const b of bag) count(counts.bag, b);
    price.push(Math.log1p(p));
    raw.push(r);
    const dom = ["a", "b", "c", "zz"][Math.floor(rnd() * 4)];
    const bagCell = i === quoteAt ? `"${bag.join(";")}"` : bag.join(";");
    lines.push([item, clicked, `g${i % 11}`, 1 + (i % 5), bagCell, p, r, i % 12, (i % 9) * 1.5, i % 4, dom, i % 3 === 0 ? 1 : 0, "n".repeat(150)].join(","));
  }
  // The spec's default min_count, 2, keeps the values seen at least twice.
  const vocabulary = (m: Map<string, number>) => [...m].filter(([, c]) => c >= 2).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([v]) => v);
  const stats = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return { mean, std: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length) };
  };
  return { text: lines.join("\n") + "\n", item: vocabulary(counts.item), bag: vocabulary(counts.bag), raw: stats(raw), price: stats(price) };
}

test("the first pass over a file of many parts learns the vocabularies and statistics a plain count of its rows gives", async () => {
  const spec = compileText(everyFieldModel("t")).spec!;
  const big = bigFile(25_000);
  assert.ok(big.item.length > 1000 && big.bag.length === 50);
  const file = join(dir, "big.csv");
  writeFileSync(file, big.text);
  assert.ok(statSync(file).size > 4 << 20, "the file spans several parts");
  const quoted = join(dir, "big-quoted.csv");
  writeFileSync(quoted, bigFile(25_000, 20_000).text); // the same rows; one cell quoted late: read in one worker
  for (const path of [file, quoted]) {
    const summary = await summarizeTrainingData(spec, path);
    assert.equal(summary.rows, 25_000, path);
    assert.deepEqual(summary.data.vocabularies.item, big.item, path);
    assert.deepEqual(summary.data.vocabularies.bag, big.bag, path);
    for (const name of ["raw", "price"] as const) {
      const got = summary.data.numeric[name];
      assert.ok(Math.abs(got.mean - big[name].mean) <= 1e-9 * Math.abs(big[name].mean), `${path} ${name} mean ${got.mean} vs ${big[name].mean}`);
      assert.ok(Math.abs(got.std - big[name].std) <= 1e-9 * big[name].std, `${path} ${name} std ${got.std} vs ${big[name].std}`);
    }
  }
  await checkEvaluationFile(spec, file);
});

test("a bad cell or a ragged row deep in a later part is named by its line and column", async () => {
  const spec = compileText(everyFieldModel("t")).spec!;
  const lines = bigFile(25_000).text.split("\n");
  const bad = [...lines];
  bad[22_000] = bad[22_000].replace(/^([^,]*,[^,]*,[^,]*),\d,/, "$1,3.5,"); // slot ids are whole numbers
  writeFileSync(join(dir, "bad-slot.csv"), bad.join("\n"));
  await assert.rejects(summarizeTrainingData(spec, join(dir, "bad-slot.csv")), /bad-slot\.csv:22001:4: /);
  await assert.rejects(checkEvaluationFile(spec, join(dir, "bad-slot.csv")), /bad-slot\.csv:22001:4: /);
  const ragged = [...lines];
  ragged[19_000] += ",extra";
  writeFileSync(join(dir, "ragged.csv"), ragged.join("\n"));
  await assert.rejects(summarizeTrainingData(spec, join(dir, "ragged.csv")), /ragged\.csv:19001: row has 14 fields but the header has 13/);
});

test("a vocabulary is ordered most frequent first, ties by UTF-16 order, rare values dropped", () => {
  const counts = new Map<string, number>([["b", 2], ["a", 2], ["ä", 2], ["😀", 2], ["\uffff", 2], ["Z", 2], ["", 2], ["top", 9], ["once", 1], ["mid", 5]]);
  // The plain reading of the rule: one comparator over (value, count) pairs.
  const reference = [...counts].filter(([, c]) => c >= 2).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).map(([v]) => v);
  assert.deepEqual(vocabularyOrder(counts, 2), reference);
  assert.deepEqual(reference, ["top", "mid", "", "Z", "a", "b", "ä", "😀", "\uffff"]);
  assert.deepEqual(vocabularyOrder(counts, 10), []);
});
