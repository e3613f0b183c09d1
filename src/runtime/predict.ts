import { createWriteStream, renameSync, rmSync } from "node:fs";
import { once } from "node:events";
import type { Manifest } from "../compiler/inference.js";
import { DataError, encodeBatch, type RawRow } from "./batch.js";
import { loadModelFiles } from "./model-files.js";
import { checkInterrupted, tempPathFor, withSignalGuard } from "./output.js";
import { openRows } from "./readers.js";
import { domainOf } from "./rows.js";
import { createSession, type ExecutionProvider } from "./session.js";

export interface PredictOptions {
  model: string;
  data: string;
  out: string;
  ep?: ExecutionProvider;
  batchSize?: number;
  threads?: number;
  keep?: string[];
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

/** Streams a data file through the model and writes one probability per row (atomically). */
export async function predict(options: PredictOptions): Promise<PredictResult> {
  const { modelPath, manifest } = loadModelFiles(options.model);
  const session = await createSession(modelPath, { ep: options.ep, threads: options.threads });
  const source = openRows(options.data);
  const columns = new Set(await source.columns());
  for (const [col, why] of requiredColumns(manifest)) {
    if (!columns.has(col)) throw new DataError(options.data, 1, undefined, `missing column '${col}' (the model reads it as ${why})`);
  }
  const keep = options.keep ?? [];
  for (const col of keep) if (!columns.has(col)) throw new DataError(options.data, 1, undefined, `missing column '${col}' (asked for by --keep)`);
  const batchSize = options.batchSize ?? 4096;
  const tmp = tempPathFor(options.out);
  return withSignalGuard(async () => {
    const out = createWriteStream(tmp);
    let rows = 0;
    let skipped = 0;
    try {
      const write = async (text: string) => {
        if (!out.write(text)) await once(out, "drain");
      };
      await write([...keep, "probability"].map(csvField).join(",") + "\n");
      let batch: RawRow[] = [];
      const flush = async () => {
        if (!batch.length) return;
        const result = await session.run(encodeBatch(manifest, batch, options.data));
        const p = result.probability.data as Float32Array;
        let text = "";
        batch.forEach((r, i) => {
          text += keep.map((k) => csvField(String(r.values[k] ?? ""))).join(",") + (keep.length ? "," : "") + formatProbability(p[i]) + "\n";
        });
        await write(text);
        rows += batch.length;
        batch = [];
        checkInterrupted();
      };
      for await (const row of source.rows()) {
        if (domainOf(manifest.domain, row, options.data) === undefined) {
          skipped++;
          continue;
        }
        batch.push(row);
        if (batch.length >= batchSize) await flush();
      }
      await flush();
      out.end();
      await once(out, "finish");
      checkInterrupted();
      renameSync(tmp, options.out);
      return { rows, skipped };
    } catch (e) {
      out.destroy();
      rmSync(tmp, { force: true });
      throw e;
    }
  });
}

/** Nine significant digits round-trip a float32. */
function formatProbability(p: number): string {
  return Number(p.toPrecision(9)).toString();
}

export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
