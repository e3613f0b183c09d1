import type ort from "onnxruntime-node";
import { closeSync, existsSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { describeFsError, UserError } from "../diagnostics/errors.js";
import type { Manifest } from "../compiler/inference.js";
import { DataError, encodeBatch, type RawRow } from "./batch.js";
import { loadModelFiles } from "./model-files.js";
import { checkInterrupted, tempPathFor, withSignalGuard } from "./output.js";
import { openRows } from "./readers.js";
import { domainOf } from "./rows.js";
import { withRouterOutputs } from "./model-folder.js";
import { createSession, type ExecutionProvider } from "./session.js";

export interface PredictOptions {
  model: string;
  data: string;
  out: string;
  ep?: ExecutionProvider;
  batchSize?: number;
  threads?: number;
  keep?: string[];
  /** Also write each gate's router probabilities and selected experts as columns. */
  debugOutputs?: boolean;
}

export interface PredictResult {
  rows: number;
  skipped: number;
}

/** Columns a model reads, each with the reason, for "missing column" messages. */
export function requiredColumns(manifest: Manifest): Map<string, string> {
  const cols = new Map<string, string>();
  for (const i of manifest.inputs) cols.set(i.column, i.meaning);
  return cols;
}

/**
 * Streams a data file through the model and writes one probability per row: to a temporary file renamed
 * into place at the end (so a data error or an interruption leaves no output at all), or to stdout for `-`.
 */
export async function predict(options: PredictOptions): Promise<PredictResult> {
  const toStdout = options.out === "-";
  if (!toStdout && existsSync(options.out) && statSync(options.out).isDirectory()) {
    throw new UserError(`-o ${options.out} is a folder; name the output file, e.g. ${join(options.out, "predictions.csv")}`);
  }
  const { modelPath, manifest } = loadModelFiles(options.model);
  if (!toStdout) refuseOverwritingInputs(options, modelPath, manifest);
  const { session, debug } = await predictSession(modelPath, manifest, options);
  const source = openRows(options.data);
  const columns = new Set(await source.columns());
  for (const [col, why] of requiredColumns(manifest)) {
    if (!columns.has(col)) throw new DataError(options.data, 1, undefined, `missing column '${col}' (the model reads it as ${why})`);
  }
  const keep = options.keep ?? [];
  for (const col of keep) if (!columns.has(col)) throw new DataError(options.data, 1, undefined, `missing column '${col}' (asked for by --keep)`);
  const batchSize = options.batchSize ?? 4096;
  const tmp = toStdout ? undefined : tempPathFor(options.out);
  let fd: number;
  try {
    fd = toStdout ? 1 : openSync(tmp!, "w");
  } catch (e) {
    throw new UserError(`cannot write ${options.out}: ${describeFsError(e)}`);
  }
  return withSignalGuard(async () => {
    let rows = 0;
    let skipped = 0;
    try {
      write(fd, [...keep, "probability", ...debug.flatMap(debugColumns)].map(csvField).join(",") + "\n");
      let batch: RawRow[] = [];
      const flush = async () => {
        if (!batch.length) return;
        const result = await session.run(encodeBatch(manifest, batch, options.data));
        const p = result.probability.data as Float32Array;
        let text = "";
        batch.forEach((r, i) => {
          const extra = debug.map((o) => debugCells(result[o.name], i)).join("");
          text += keep.map((k) => csvField(String(r.values[k] ?? ""))).join(",") + (keep.length ? "," : "") + formatProbability(p[i]) + extra + "\n";
        });
        write(fd, text);
        rows += batch.length;
        batch = [];
        checkInterrupted();
      };
      for await (const chunk of source.chunks()) {
        for (const row of chunk) {
          if (domainOf(manifest.domain, row, options.data) === undefined) {
            skipped++;
            continue;
          }
          batch.push(row);
          if (batch.length >= batchSize) await flush();
        }
      }
      await flush();
      checkInterrupted();
      if (tmp) {
        fsyncSync(fd);
        closeSync(fd);
        renameSync(tmp, options.out);
      }
      return { rows, skipped };
    } catch (e) {
      if (tmp) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
        rmSync(tmp, { force: true });
      }
      throw e;
    }
  });
}

/** `debug.router.probabilities` [N, 8] → router.p0 … router.p7; `debug.router.selected` [N, 2] → router.choice1, router.choice2. */
function debugColumns(o: { name: string; shape: (number | string)[] }): string[] {
  const [, gate, what] = o.name.split(".");
  const n = Number(o.shape[1]);
  return Array.from({ length: n }, (_, j) => (what === "selected" ? `${gate}.choice${j + 1}` : `${gate}.p${j}`));
}

function debugCells(t: { data: unknown; dims: readonly number[] }, row: number): string {
  const width = t.dims[1];
  const data = t.data as Float32Array | BigInt64Array;
  let out = "";
  for (let j = 0; j < width; j++) {
    const v = data[row * width + j];
    out += "," + (typeof v === "bigint" ? v.toString() : formatProbability(v));
  }
  return out;
}

/** The output replaces its path at the end: it must not be the input, or a file of the model. */
function refuseOverwritingInputs(options: PredictOptions, modelPath: string, manifest: Manifest): void {
  const target = canonical(options.out);
  const model = dirname(modelPath); // the model folder, whether a folder or its model.onnx was named
  const inputs = [options.data, modelPath, join(model, "manifest.json"), ...(manifest.files.external_data ? [join(model, manifest.files.external_data)] : [])];
  const clash = inputs.find((p) => p !== "-" && canonical(p) === target);
  if (clash) throw new UserError(`-o ${options.out} would overwrite ${clash}, which this command reads; write the predictions elsewhere`);
}

/** The model's session, with the routers' debug outputs when asked for (rebuilt from its checkpoint if need be). */
async function predictSession(modelPath: string, manifest: Manifest, options: PredictOptions): Promise<{ session: ort.InferenceSession; debug: Manifest["outputs"] }> {
  const sessionOptions = { ep: options.ep, threads: options.threads };
  if (!options.debugOutputs) return { session: await createSession(modelPath, sessionOptions), debug: [] };
  const routed = await withRouterOutputs(modelPath, manifest, sessionOptions);
  const debug = routed.manifest.outputs.filter((o) => o.name.startsWith("debug."));
  if (routed.note || debug.length === 0) throw new UserError(`--debug-outputs: ${routed.note ?? "the model has no gates"}`);
  return { session: routed.session, debug };
}

/** A path with links resolved (for a file that does not exist yet, its folder's). */
function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

function write(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EPIPE") throw new UserError("the output pipe was closed", 1);
    throw new UserError(`cannot write the predictions: ${describeFsError(e)}`);
  }
}

/** Nine significant digits round-trip a float32. */
function formatProbability(p: number): string {
  return Number(p.toPrecision(9)).toString();
}

export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
