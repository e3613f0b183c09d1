import assert from "node:assert/strict";
import { test } from "node:test";
import { compileTrainStep } from "../../src/compiler/train-step.js";
import { encodeRecords, encodeRows, mulberry32, recordEncoder, recordLabels } from "../../src/runtime/batch-encoding.js";
import type { RawRow } from "../../src/runtime/cells.js";
import { rowLookups } from "../../src/runtime/embedding-store.js";
import { compileText } from "../helpers/specs.js";

const spec = compileText(`
model enc {
  domain d { column: "domain", values: [a, b] }
  features {
    categorical user { dim: 4, oov_rate: 0.3 }
    categorical item { range: [10, 99], dim: 4 }
    multi_categorical tags { dim: 4, separator: "|", pooling: sum, oov_rate: 0.5 }
    numeric x {}
    numeric y { missing_values: ["?"] }
  }
  experts e { scope: shared, count: 1, layers: [4] }
  tower t { per: domain, input: e, layers: [2] }
  train { optimizer: adam, lr: 0.01, batch_size: 8, epochs: 1, seed: 3 }
}`).spec!;
const data = { vocabularies: { user: ["u0", "u1", "u2", "u3"], tags: ["p", "q", "r"] }, numeric: {} };
const signature = compileTrainStep(spec, { data }).signature;
const rowOf = rowLookups(spec, data, signature);

const rows: RawRow[] = [
  ["u1", "10", "p|q", "0.5", "1"], ["u9", "99", "", "-2", "?"], ["u1", "100", "r|r|zz|", "1e3", "0"], ["u3", "12", "q", "", "2.5"],
  ["u0", "11", "|p|||q|r", "3", "4"], ["u2", "", "zz", "nan", "-1"],
].map(([user, item, tags, x, y], i) => ({ values: { user, item, tags, x, y, domain: i % 2 ? "b" : "a" }, line: i + 2 }));
const domains = rows.map((_, i) => i % 2);

/**
 * The batch as plainly as it can be written: each value's table row (drops drawn value by value, field by
 * field, from the step's seed), each table's distinct rows in ascending order, each value's position among
 * them, -1 padding the lists.
 */
function reference(seed: number) {
  const random = mulberry32(seed);
  const drop = (rate: number | undefined) => rate !== undefined && rate > 0 && random() < rate;
  const userIds = rows.map((r) => (drop(0.3) ? 0 : rowOf("user", r.values.user as string)));
  const itemIds = rows.map((r) => rowOf("item", r.values.item as string));
  const lists = rows.map((r) => (r.values.tags as string).split("|").filter((v) => v !== "").map((v) => rowOf("tags", v)));
  const width = Math.max(1, ...lists.map((l) => l.length));
  const tagIds = lists.flatMap((l) => Array.from({ length: width }, (_, j) => (j < l.length ? (drop(0.5) ? 0 : l[j]) : -1)));
  const positions = (ids: number[]) => {
    const distinct = [...new Set(ids.filter((id) => id >= 0))].sort((p, q) => p - q);
    return { touched: Int32Array.from(distinct), at: BigInt64Array.from(ids, (id) => BigInt(id < 0 ? -1 : distinct.indexOf(id))) };
  };
  return { user: positions(userIds), item: positions(itemIds), tags: { ...positions(tagIds), width } };
}

test("a batch of rows encodes to the positions, touched rows, numbers and domains of a plain reference, drops included", () => {
  for (const seed of [1, 2, 77]) {
    const got = encodeRows(spec, signature, rowOf, rows, domains, "t.csv", seed);
    const want = reference(seed);
    const index = (name: string) => got.indices.find((i) => i.name.endsWith(`.${name}`))!;
    for (const name of ["user", "item", "tags"] as const) {
      assert.deepEqual(got.touched.get(name), want[name].touched, `${name}, seed ${seed}`);
      assert.deepEqual(index(name).data, want[name].at, `${name}, seed ${seed}`);
    }
    assert.deepEqual(index("tags").shape, [rows.length, want.tags.width]);
    assert.deepEqual(index("user").shape, [rows.length]);
    assert.deepEqual(got.numerics.map((n) => [n.name, [...n.data]]), [["x", [0.5, -2, 1000, NaN, 3, NaN]], ["y", [1, NaN, 0, 2.5, 4, -1]]]);
    assert.deepEqual(got.domains, BigInt64Array.from(domains, BigInt));
  }
  // Some values really were dropped to the out-of-vocabulary row with these seeds, and not all.
  const drops = [1, 2, 77].map((seed) => reference(seed).tags.touched.includes(0));
  assert.ok(drops.includes(true));
});

test("records keep every row's numbers and labels exactly, and a batch of records is the batch of its rows", () => {
  const encode = recordEncoder(spec, signature, rowOf, "t.csv");
  const labels = [1, 0, 0, 1, 1, 0];
  const records = rows.map((r, i) => encode(r, domains[i], labels[i]));
  assert.deepEqual(recordLabels(records), Float32Array.from(labels));
  assert.deepEqual(encodeRecords(spec, signature, records, 9), encodeRows(spec, signature, rowOf, rows, domains, "t.csv", 9));
  // A row with no list values at all still has one (padding) slot per list.
  const empty = encodeRecords(spec, signature, [records[1]], 9);
  assert.deepEqual(empty.indices.find((i) => i.name.endsWith(".tags"))!.shape, [1, 1]);
  assert.deepEqual(empty.touched.get("tags"), Int32Array.of(0));
});

test("a cell that cannot be read is a positioned error when its row becomes a record", () => {
  const encode = recordEncoder(spec, signature, rowOf, "t.csv");
  assert.throws(() => encode({ values: { ...rows[0].values, x: "abc" }, line: 41, columns: { x: 4 } }, 0, 1), /t\.csv:41:4: 'x' must be a number/);
});
