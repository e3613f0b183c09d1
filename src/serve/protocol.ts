import type { Manifest } from "../compiler/inference.js";
import { DataError, type RawRow } from "../runtime/cells.js";

// The Open Inference Protocol (KServe v2) as mdrc serves it: every model input is one raw column value per
// row — a multi-valued cell is one string with its separator, exactly as in a data file — so the tensors a
// client sends are the same for `mdr serve`, KServe and the Triton export.

/** A request the server refuses: an HTTP status and a message naming the input and the problem. */
export class RequestError extends Error {
  constructor(readonly status: number, message: string, readonly kind: "bad_request" | "not_found" | "too_large" | "unavailable" = "bad_request") {
    super(message);
  }
}

export type Datatype = "BYTES" | "FP32" | "INT64" | "FP64" | "INT32" | "BOOL";

export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  shape: number[];
}

/** A served input: its protocol datatype, and the column and meaning from the manifest. */
export interface ServedInput extends TensorMetadata {
  column: string;
  meaning: string;
  /** Datatypes also accepted (a JSON client sends FP64 for numbers). */
  accepts: Datatype[];
}

const servedCache = new WeakMap<Manifest, Map<string, ServedInput>>();

/** A model's served inputs by name, worked out once per loaded manifest (every request reads them). */
function servedByName(manifest: Manifest): Map<string, ServedInput> {
  let byName = servedCache.get(manifest);
  if (!byName) {
    byName = new Map(manifest.inputs.map((i) => {
      const datatype: Datatype = i.dtype === "float32" ? "FP32" : i.dtype === "int64" ? "INT64" : "BYTES";
      const accepts: Datatype[] = datatype === "FP32" ? ["FP32", "FP64"] : datatype === "INT64" ? ["INT64", "INT32"] : ["BYTES"];
      const meaning = i.split_by !== undefined ? i.meaning.replace(/, split on .*$/, ` in one string, separated by '${i.split_by}'`) : i.meaning;
      return [i.name, { name: i.name, datatype, shape: [-1], column: i.column, meaning, accepts }];
    }));
    servedCache.set(manifest, byName);
  }
  return byName;
}

export function servedInputs(manifest: Manifest): ServedInput[] {
  return [...servedByName(manifest).values()];
}

export function servedOutputs(manifest: Manifest): TensorMetadata[] {
  return manifest.outputs.map((o) => ({ name: o.name, datatype: datatypeOf(o.dtype), shape: o.shape.map((d) => (typeof d === "number" ? d : -1)) }));
}

export function datatypeOf(dtype: string): Datatype {
  const map: Record<string, Datatype> = { float32: "FP32", float64: "FP64", int64: "INT64", int32: "INT32", string: "BYTES", bool: "BOOL" };
  const d = map[dtype];
  if (!d) throw new Error(`no protocol datatype for ${dtype}`);
  return d;
}

/** What an infer request asks for, as rows of raw values. */
export interface InferRequest {
  id?: string;
  rows: RawRow[];
  /** Output names asked for; all outputs when absent. */
  outputs?: string[];
}

/** Validates a v2 infer request body against a model's inputs and turns its tensors into rows. */
export function parseInferRequest(body: unknown, manifest: Manifest, model: string): InferRequest {
  if (!isObject(body)) throw new RequestError(400, "the request body must be a JSON object with an 'inputs' list");
  if (body.id !== undefined && typeof body.id !== "string") throw new RequestError(400, "'id' must be a string");
  if (!Array.isArray(body.inputs)) throw new RequestError(400, "the request needs an 'inputs' list of tensors");
  const inputs = servedByName(manifest);
  const columns = new Map<string, unknown[]>();
  let rows: number | undefined;
  let first = "";
  body.inputs.forEach((t: unknown, k: number) => {
    const values = tensorValues(t, k, inputs, model);
    const name = (t as { name: string }).name;
    if (columns.has(name)) throw new RequestError(400, `input '${name}' is given twice`);
    if (rows !== undefined && values.length !== rows) {
      throw new RequestError(400, `inputs have different row counts: '${first}' has ${rows} rows, '${name}' has ${values.length}`);
    }
    if (rows === undefined) [rows, first] = [values.length, name];
    columns.set(name, values);
  });
  for (const [name, i] of inputs) {
    if (!columns.has(name)) throw new RequestError(400, `missing input '${name}' (${i.datatype}, ${i.meaning})`);
  }
  if (!rows) throw new RequestError(400, "the request has no rows");
  const out: RawRow[] = [];
  for (let r = 0; r < rows; r++) {
    const values: Record<string, unknown> = {};
    for (const [name, v] of columns) values[inputs.get(name)!.column] = v[r];
    out.push({ values, line: r });
  }
  return { ...(body.id !== undefined ? { id: body.id as string } : {}), rows: out, ...(body.outputs !== undefined ? { outputs: outputNames(body.outputs, manifest) } : {}) };
}

/** The rows of a KServe v1-style `{"instances": [{column: value, …}, …]}` body. */
export function parseInstances(body: unknown): RawRow[] {
  if (!isObject(body) || !Array.isArray(body.instances)) throw new RequestError(400, "the request body must be {\"instances\": [{\"column\": value, …}, …]}");
  if (body.instances.length === 0) throw new RequestError(400, "'instances' is empty");
  return body.instances.map((x: unknown, i: number) => {
    if (!isObject(x)) throw new RequestError(400, `instance ${i} must be an object of column values, got ${JSON.stringify(x)?.slice(0, 40)}`);
    return { values: x, line: i };
  });
}

/** A data error in a request names the row (0-based) instead of a file line. */
export function requestDataError(e: DataError, what: "row" | "instance"): RequestError {
  return new RequestError(400, `${what} ${e.line}: ${e.reason}`);
}

function tensorValues(t: unknown, k: number, served: Map<string, ServedInput>, model: string): unknown[] {
  if (!isObject(t) || typeof t.name !== "string") throw new RequestError(400, `inputs[${k}] needs a 'name'`);
  const name = t.name;
  const input = served.get(name);
  if (!input) throw new RequestError(400, `'${name}' is not an input of model '${model}' (inputs: ${[...served.keys()].join(", ")})`);
  if (typeof t.datatype !== "string") throw new RequestError(400, `input '${name}' needs a 'datatype' (${input.datatype})`);
  if (!input.accepts.includes(t.datatype as Datatype)) {
    throw new RequestError(400, `input '${name}' has datatype ${t.datatype}; the model expects ${input.datatype} (${input.meaning})`);
  }
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new RequestError(400, `input '${name}' needs a 'shape' of non-negative integers, e.g. [rows]`);
  }
  if (shape.length < 1 || shape.length > 2 || (shape.length === 2 && shape[1] !== 1)) {
    throw new RequestError(400, `input '${name}' has shape [${shape.join(", ")}]; the model takes one value per row: [rows] or [rows, 1]`);
  }
  if (!Array.isArray(t.data)) throw new RequestError(400, `input '${name}' needs a 'data' list`);
  const data = shape.length === 2 ? (t.data as unknown[]).flat(1) : (t.data as unknown[]);
  if (data.length !== shape[0]) throw new RequestError(400, `input '${name}' has shape [${shape.join(", ")}] but ${data.length} values`);
  data.forEach((v, r) => {
    const ok = t.datatype === "BYTES" ? typeof v === "string" : v === null || typeof v === "number";
    if (!ok) throw new RequestError(400, `input '${name}', row ${r}: ${JSON.stringify(v)?.slice(0, 40)} is not ${t.datatype === "BYTES" ? "a string" : "a number (or null for missing)"}`);
  });
  return data;
}

function outputNames(v: unknown, manifest: Manifest): string[] {
  const known = manifest.outputs.map((o) => o.name);
  if (!Array.isArray(v)) throw new RequestError(400, "'outputs' must be a list of {\"name\": …}");
  return v.map((o) => {
    const name = isObject(o) ? o.name : undefined;
    if (typeof name !== "string" || !known.includes(name)) throw new RequestError(400, `${JSON.stringify(name ?? o)} is not an output of the model (outputs: ${known.join(", ")})`);
    return name;
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
