// A checker for Triton's model configuration in protobuf text format. The message and field definitions
// below are transcribed from protobuf/model_config.proto of triton-inference-server/common (field names,
// types, repeated-ness and enum values of the messages a config for the ONNX Runtime backend can use),
// so a config.pbtxt with a misspelt field, a wrong type, an unknown enum value or a repeated singular
// field fails here as it would fail to load in Triton.

type Scalar = "string" | "int32" | "int64" | "uint32" | "uint64" | "bool" | "float";
interface Field {
  type: Scalar | { message: string } | { enum: string } | { map: [Scalar, Scalar | { message: string }] };
  repeated?: boolean;
}
type Message = Record<string, Field>;

const enums: Record<string, string[]> = {
  DataType: ["TYPE_INVALID", "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16", "TYPE_INT32", "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16"],
  Format: ["FORMAT_NONE", "FORMAT_NHWC", "FORMAT_NCHW"],
  Kind: ["KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"],
};

const messages: Record<string, Message> = {
  ModelConfig: {
    name: { type: "string" }, platform: { type: "string" }, backend: { type: "string" }, runtime: { type: "string" },
    max_batch_size: { type: "int32" },
    input: { type: { message: "ModelInput" }, repeated: true },
    output: { type: { message: "ModelOutput" }, repeated: true },
    dynamic_batching: { type: { message: "ModelDynamicBatching" } },
    instance_group: { type: { message: "ModelInstanceGroup" }, repeated: true },
    default_model_filename: { type: "string" },
    parameters: { type: { map: ["string", { message: "ModelParameter" }] } },
    metric_tags: { type: { map: ["string", "string"] } },
  },
  ModelInput: {
    name: { type: "string" }, data_type: { type: { enum: "DataType" } }, format: { type: { enum: "Format" } },
    dims: { type: "int64", repeated: true }, reshape: { type: { message: "ModelTensorReshape" } },
    is_shape_tensor: { type: "bool" }, allow_ragged_batch: { type: "bool" }, optional: { type: "bool" }, is_non_linear_format_io: { type: "bool" },
  },
  ModelOutput: {
    name: { type: "string" }, data_type: { type: { enum: "DataType" } }, dims: { type: "int64", repeated: true },
    reshape: { type: { message: "ModelTensorReshape" } }, label_filename: { type: "string" }, is_shape_tensor: { type: "bool" }, is_non_linear_format_io: { type: "bool" },
  },
  ModelTensorReshape: { shape: { type: "int64", repeated: true } },
  ModelDynamicBatching: {
    preferred_batch_size: { type: "int32", repeated: true }, max_queue_delay_microseconds: { type: "uint64" },
    preserve_ordering: { type: "bool" }, priority_levels: { type: "uint64" }, default_priority_level: { type: "uint64" },
  },
  ModelInstanceGroup: { name: { type: "string" }, count: { type: "int32" }, gpus: { type: "int32", repeated: true }, kind: { type: { enum: "Kind" } }, passive: { type: "bool" } },
  ModelParameter: { string_value: { type: "string" } },
};

/** A parsed text-format message: field name → values (one per occurrence or list item). */
export type TextMessage = Map<string, (string | number | boolean | TextMessage)[]>;

/** Parses protobuf text format and checks it against the ModelConfig definition; throws with the first problem. */
export function parseModelConfig(text: string): TextMessage {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const expect = (t: string) => {
    if (next() !== t) throw new Error(`expected '${t}' near token ${i}: ${tokens.slice(Math.max(0, i - 3), i + 2).join(" ")}`);
  };
  const parseMessage = (type: string, end: string | undefined): TextMessage => {
    const def = messages[type];
    const out: TextMessage = new Map();
    while (peek() !== end) {
      if (peek() === undefined) throw new Error(`unexpected end of input in ${type}`);
      const name = next();
      const field = def[name];
      if (!field) throw new Error(`${type} has no field '${name}'`);
      const isMessage = typeof field.type === "object" && !("enum" in field.type);
      if (peek() === ":") next();
      else if (!isMessage) throw new Error(`expected ':' after ${type}.${name}`);
      const values = out.get(name) ?? [];
      const one = () => values.push(parseValue(field, `${type}.${name}`));
      if (peek() === "[") {
        next();
        if (!field.repeated && !(typeof field.type === "object" && "map" in field.type)) throw new Error(`${type}.${name} is not repeated but is given a list`);
        while (peek() !== "]") {
          one();
          if (peek() === ",") next();
        }
        next();
      } else {
        one();
      }
      const repeatable = field.repeated || (typeof field.type === "object" && "map" in field.type);
      if (!repeatable && values.length > 1) throw new Error(`${type}.${name} is given more than once`);
      out.set(name, values);
      if (peek() === "," || peek() === ";") next();
    }
    if (end) next();
    return out;
  };
  const parseValue = (field: Field, where: string): string | number | boolean | TextMessage => {
    const t = field.type;
    if (typeof t === "object" && "message" in t) {
      expect("{");
      return parseMessage(t.message, "}");
    }
    if (typeof t === "object" && "map" in t) {
      expect("{");
      const entry: Message = { key: { type: t.map[0] }, value: { type: t.map[1] } };
      messages[`${where}Entry`] = entry;
      return parseMessage(`${where}Entry`, "}");
    }
    const tok = next();
    if (typeof t === "object" && "enum" in t) {
      if (!enums[t.enum].includes(tok)) throw new Error(`${where}: '${tok}' is not a ${t.enum} (${enums[t.enum].join(", ")})`);
      return tok;
    }
    if (t === "string") {
      if (!/^"/.test(tok)) throw new Error(`${where} must be a quoted string, got ${tok}`);
      return JSON.parse(tok) as string;
    }
    if (t === "bool") {
      if (tok !== "true" && tok !== "false") throw new Error(`${where} must be true or false, got ${tok}`);
      return tok === "true";
    }
    const n = Number(tok);
    if (!Number.isFinite(n)) throw new Error(`${where} must be a number, got ${tok}`);
    if (t !== "float" && !Number.isInteger(n)) throw new Error(`${where} must be an integer, got ${tok}`);
    if (t.startsWith("uint") && n < 0) throw new Error(`${where} must be ≥ 0, got ${tok}`);
    if (t === "int32" && Math.abs(n) > 2 ** 31 - 1) throw new Error(`${where} is out of int32 range`);
    return n;
  };
  return parseMessage("ModelConfig", undefined);
}

function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /\s+|#[^\n]*|("(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_]*)|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([{}[\]:,;])/y;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    m = re.exec(text);
    if (!m) throw new Error(`cannot read config.pbtxt at offset ${at}: ${JSON.stringify(text.slice(at, at + 20))}`);
    const tok = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (tok !== undefined) out.push(tok);
    at = re.lastIndex;
  }
  return out;
}
