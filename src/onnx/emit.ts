import onnxProto from "onnx-proto";
import type { GraphBuilder, GraphIO, Initializer, Node } from "../graph/builder.js";
import { ONNX_ELEM_TYPE, type AttrValue, type Dim, type TensorData } from "../graph/tensor.js";
import { opsetInfo } from "./opset.js";

const { onnx } = onnxProto;

const elemType = ONNX_ELEM_TYPE;

export interface EmitOptions {
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
  /**
   * When the model's tensors exceed this many bytes in total (default 1.8 GiB; protobuf caps one file at
   * 2 GiB), every initializer of at least 1 KiB goes to the external data file.
   */
  externalDataAbove?: number;
  externalDataFile?: string;
}

export interface EmittedModel {
  model: Uint8Array;
  /** The external data file's bytes, when tensors were moved out. */
  externalData?: Uint8Array;
}

const EXTERNAL_TOTAL = 1.8 * 1024 ** 3;
const EXTERNAL_MIN_TENSOR = 1024;

/** Serialises a built graph to ONNX protobuf bytes; the same graph always gives the same bytes. */
export function emitModel(g: GraphBuilder, options: EmitOptions): EmittedModel {
  const info = opsetInfo(g.opset);
  const nodes = foldOutputIdentities(g.liveNodes(), new Set(g.outputs.map((o) => o.name)));
  // Constants only dead nodes read go with them; parameters always stay (checkpoints map onto them).
  const used = new Set([...nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  const initializers = g.initializers.filter((t) => used.has(t.name) || g.parameters.has(t.name));
  const total = initializers.reduce((n, t) => n + byteLength(t), 0);
  const external = total > (options.externalDataAbove ?? EXTERNAL_TOTAL);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const initializer = initializers.map((t) => {
    const proto = tensorProto(t.name, t);
    if (external && byteLength(t) >= EXTERNAL_MIN_TENSOR && t.dtype !== "string") {
      const bytes = proto.rawData as Uint8Array;
      // ONNX Runtime memory-maps external data: keep each tensor 4 KiB aligned.
      const pad = (4096 - (offset % 4096)) % 4096;
      if (pad) chunks.push(new Uint8Array(pad));
      offset += pad;
      proto.rawData = undefined as unknown as Uint8Array;
      proto.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      proto.externalData = [
        { key: "location", value: options.externalDataFile ?? "model.onnx.data" },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(bytes.length) },
      ];
      chunks.push(bytes);
      offset += bytes.length;
    }
    return proto;
  });
  const outputs = [...g.outputs].sort((a, b) => outputRank(a) - outputRank(b));
  const model = onnx.ModelProto.create({
    irVersion: info.ir,
    producerName: "mdrc",
    producerVersion: options.producerVersion,
    docString: options.docString ?? "",
    opsetImport: [{ domain: "", version: g.opset }, { domain: "ai.onnx.ml", version: info.ml }],
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: "mdrc",
      node: nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes).map(([name, v]) => attribute(name, v)),
      })),
      initializer,
      input: g.inputs.map(valueInfo),
      output: outputs.map(valueInfo),
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  return external ? { model: bytes, externalData: concat(chunks, offset) } : { model: bytes };
}

/**
 * A graph output is named by an Identity of the value that computes it; ONNX Runtime runs such an Identity
 * as a copy (a train step's every updated parameter and optimizer slot, each step). Where the value comes
 * from a node and is no output itself, that node writes the output directly instead, and its readers
 * read it under the output's name.
 */
function foldOutputIdentities(nodes: Node[], outputs: Set<string>): Node[] {
  const produced = new Set(nodes.flatMap((n) => n.outputs));
  const rename = new Map<string, string>();
  const folded = new Set<Node>();
  for (const n of nodes) {
    const [from] = n.inputs;
    const [to] = n.outputs;
    if (n.opType !== "Identity" || !outputs.has(to) || !produced.has(from) || outputs.has(from) || rename.has(from)) continue;
    rename.set(from, to);
    folded.add(n);
  }
  const renamed = (x: string) => rename.get(x) ?? x;
  return nodes.filter((n) => !folded.has(n)).map((n) => ({ ...n, inputs: n.inputs.map(renamed), outputs: n.outputs.map(renamed) }));
}

/** probability and logit first, debug outputs after, in creation order. */
function outputRank(o: GraphIO): number {
  return o.name === "probability" ? 0 : o.name === "logit" ? 1 : 2;
}

function byteLength(t: TensorData): number {
  if (t.dtype === "string") return (t.data as string[]).reduce((n, s) => n + Buffer.byteLength(s), 0);
  return (t.data as Float32Array).byteLength;
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function tensorProto(name: string, t: TensorData | Initializer): InstanceType<typeof onnx.TensorProto> {
  const proto = onnx.TensorProto.create({ name, dims: [...t.shape], dataType: elemType[t.dtype] });
  if (t.dtype === "string") {
    proto.stringData = (t.data as string[]).map((s) => Buffer.from(s, "utf8"));
  } else {
    const data = t.data as Float32Array | BigInt64Array | Uint8Array;
    // Raw data is little-endian by the ONNX spec; typed arrays are little-endian on every platform Node runs on.
    // A view, not a copy: encoding only reads it, and an embedding table can be hundreds of megabytes.
    proto.rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return proto;
}

function attribute(name: string, v: AttrValue): Record<string, unknown> {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") return { name, type: T.INT, i: v };
  if (typeof v === "string") return { name, type: T.STRING, s: Buffer.from(v, "utf8") };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === "string") return { name, type: T.STRINGS, strings: (v as string[]).map((s) => Buffer.from(s, "utf8")) };
    return { name, type: T.INTS, ints: v as number[] };
  }
  if ("float" in v) return { name, type: T.FLOAT, f: v.float };
  if ("floats" in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.TENSOR, t: tensorProto("", v) };
}

function valueInfo(t: GraphIO): Record<string, unknown> {
  return {
    name: t.name,
    docString: t.doc ?? "",
    type: { tensorType: { elemType: elemType[t.dtype], shape: { dim: t.shape.map(dim) } } },
  };
}

function dim(d: Dim): Record<string, unknown> {
  if (typeof d === "number") return { dimValue: d };
  return d === "?" ? {} : { dimParam: d };
}
