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
  /**
   * Initializers written as graph inputs instead, without their values: for a caller that feeds the
   * values it already holds at every run rather than copying them into a model.
   */
  asInputs?: ReadonlySet<string>;
}

export interface EmittedModel {
  model: Uint8Array;
  /** The external data file's bytes, when tensors were moved out. */
  externalData?: Uint8Array;
}

/**
 * A file's bytes as the pieces it is written from, in order: a large tensor's values are a view of the
 * array that holds them, not a copy (an embedding table can be hundreds of megabytes).
 */
export type ByteParts = readonly Uint8Array[];

/** The same model as pieces; joined, they are emitModel's bytes. */
export interface EmittedParts {
  model: ByteParts;
  externalData?: ByteParts;
}

const EXTERNAL_TOTAL = 1.8 * 1024 ** 3;
const EXTERNAL_MIN_TENSOR = 1024;

/** Serialises a built graph to ONNX protobuf bytes; the same graph always gives the same bytes. */
export function emitModel(g: GraphBuilder, options: EmitOptions): EmittedModel {
  const parts = emitModelParts(g, options);
  return { model: joinParts(parts.model), ...(parts.externalData ? { externalData: joinParts(parts.externalData) } : {}) };
}

/** emitModel's bytes as pieces, for a caller that writes or hashes them without joining them. */
export function emitModelParts(g: GraphBuilder, options: EmitOptions): EmittedParts {
  const info = opsetInfo(g.opset);
  const nodes = foldOutputIdentities(g.liveNodes(), new Set(g.outputs.map((o) => o.name)));
  // Constants only dead nodes read go with them; parameters always stay (checkpoints map onto them).
  const used = new Set([...nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  const kept = g.initializers.filter((t) => used.has(t.name) || g.parameters.has(t.name));
  const initializers = kept.filter((t) => !options.asInputs?.has(t.name));
  const fed = kept.filter((t) => options.asInputs?.has(t.name)).map((t): GraphIO => ({ name: t.name, dtype: t.dtype, shape: t.shape }));
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
  // protobufjs would copy every tensor into one buffer. The message is encoded in the pieces it writes
  // anyway, in its field order (the model's fields before its graph, the graph, the fields after; in the
  // graph, its nodes and name, the initializers, its inputs and outputs), so the joined pieces are exactly
  // its bytes, and a large tensor's raw data is a view.
  const graph = [
    encode(onnx.GraphProto, {
      node: nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes).map(([name, v]) => attribute(name, v)),
      })),
      name: "mdrc",
    }),
    ...initializer.flatMap((t) => lengthDelimited(GRAPH_INITIALIZER, tensorParts(t))),
    encode(onnx.GraphProto, { input: [...g.inputs, ...fed].map(valueInfo), output: outputs.map(valueInfo) }),
  ];
  const model = [
    encode(onnx.ModelProto, { irVersion: info.ir, producerName: "mdrc", producerVersion: options.producerVersion, docString: options.docString ?? "" }),
    ...lengthDelimited(MODEL_GRAPH, graph),
    encode(onnx.ModelProto, {
      opsetImport: [{ domain: "", version: g.opset }, { domain: "ai.onnx.ml", version: info.ml }],
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    }),
  ];
  return external ? { model, externalData: chunks } : { model };
}

// Field keys (number << 3 | wire type 2, length-delimited) of the messages written in pieces.
const MODEL_GRAPH = (7 << 3) | 2;
const GRAPH_INITIALIZER = (5 << 3) | 2;
const TENSOR_RAW_DATA = (9 << 3) | 2;
/** Tensors with at least this many bytes of raw data are written from a view of their values. */
const VIEW_MIN_BYTES = 1 << 16;

function encode<T>(type: { create(p: T): unknown; encode(m: never): { finish(): Uint8Array } }, properties: T): Uint8Array {
  return type.encode(type.create(properties) as never).finish();
}

/** A field holding the message made of `parts`: its key, its length, the parts. */
function lengthDelimited(key: number, parts: ByteParts): Uint8Array[] {
  return [Uint8Array.from([key, ...varint(partsLength(parts))]), ...parts];
}

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
  out.push(n);
  return out;
}

/** A TensorProto; raw data is its last field written, so a large one is a piece of its own. */
function tensorParts(proto: InstanceType<typeof onnx.TensorProto>): Uint8Array[] {
  const raw = proto.rawData as Uint8Array | undefined;
  if (!raw || raw.length < VIEW_MIN_BYTES || proto.externalData?.length) return [onnx.TensorProto.encode(proto).finish()];
  const rest = onnx.TensorProto.create({ ...proto, rawData: undefined });
  return [onnx.TensorProto.encode(rest).finish(), ...lengthDelimited(TENSOR_RAW_DATA, [raw])];
}

/** Bytes whole or in pieces, as pieces. */
export function asParts(bytes: Uint8Array | ByteParts): ByteParts {
  return bytes instanceof Uint8Array ? [bytes] : bytes;
}

/** The pieces of a file as one array. */
export function joinParts(parts: ByteParts): Uint8Array {
  return concat(parts, partsLength(parts));
}

export function partsLength(parts: ByteParts): number {
  return parts.reduce((n, p) => n + p.length, 0);
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

function concat(chunks: ByteParts, length: number): Uint8Array {
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
