import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { compileInference } from "../../src/compiler/inference.js";
import { embeddingTable } from "../../src/graph/names.js";
import { joinParts } from "../../src/onnx/emit.js";
import { encodeBatch, type RawRow } from "../../src/runtime/batch.js";
import { randomRows, syntheticData } from "../helpers/models.js";
import { compileText } from "../helpers/specs.js";

// Consecutive categorical fields of one width: a vocabulary, a field sharing its table, a range and hash buckets.
const spec = compileText(`
model fed {
  domain d { column: "dom", values: [a, b] }
  features {
    categorical item { dim: 4 }
    categorical clicked { table: item }
    categorical slot { range: [1, 50], dim: 4 }
    categorical tag { hash_buckets: 9, dim: 4 }
    numeric x {}
  }
  experts e { count: 1, layers: [5] }
  tower { input: e, layers: [3] }
}`).spec!;
const data = syntheticData(spec);

test("tables fed at every run (training's evaluations) give the model's exact outputs, and are never concatenated", async () => {
  const baked = compileInference(spec, { data });
  const tables = ["item", "slot", "tag"].map(embeddingTable);
  const fedModel = compileInference(spec, { data, weightsAsInputs: new Set(tables) });
  const bytes = joinParts(fedModel.files["model.onnx"]);
  const graph = onnxProto.onnx.ModelProto.decode(bytes).graph!;
  assert.deepEqual(tables.filter((t) => graph.input!.some((i) => i.name === t)), tables);
  // A Concat of fed tables would copy every table at every run (82 MB per run on a 10⁶-row table).
  const concatenated = graph.node!.filter((n) => n.opType === "Concat" && n.input!.some((i) => tables.includes(i)));
  assert.deepEqual(concatenated.map((n) => n.name), []);
  // The same initial values as the baked model's tables, fed.
  const initializers = onnxProto.onnx.ModelProto.decode(joinParts(baked.files["model.onnx"])).graph!.initializer!;
  const fed = Object.fromEntries(tables.map((t) => {
    const init = initializers.find((i) => i.name === t)!;
    const raw = init.rawData!;
    return [t, new ort.Tensor("float32", new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), init.dims!.map(Number))];
  }));
  const rows: RawRow[] = randomRows(spec, data, 64, 5).map((values, i) => ({ values, line: i + 2 }));
  const run = async (model: Uint8Array, extra: Record<string, ort.Tensor>) => {
    const session = await ort.InferenceSession.create(Buffer.from(model), { intraOpNumThreads: 1 });
    const out = await session.run({ ...encodeBatch(baked.manifest, rows, "t"), ...extra });
    await session.release();
    return out.probability.data as Float32Array;
  };
  assert.deepEqual(await run(bytes, fed), await run(joinParts(baked.files["model.onnx"]), {}));
});
