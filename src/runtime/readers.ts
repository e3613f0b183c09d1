import { createReadStream, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { Worker } from "node:worker_threads";
import { extname } from "node:path";
import { describeFsError, UserError } from "../diagnostics/errors.js";
import { DataError, type RawRow } from "./cells.js";
import type { ParquetMessage } from "./parquet-worker.js";
import type { CsvMessage } from "./csv-worker.js";
import { csvRecordChunks, type CsvRecord } from "./csv-records.js";
import { unpackRow } from "./packed-row.js";
import { PARSING_WORKER, workerMessages } from "./worker-channel.js";

export interface RowSource {
  /** Column names, known after the header (CSV) or the first row (JSON Lines). */
  columns(): Promise<string[]>;
  rows(): AsyncIterable<RawRow>;
  /**
   * The same rows in chunks, for loops where an await per row would cost more than the row's work (a CSV
   * file's come a read at a time). Take each chunk whole before asking for the next.
   */
  chunks(): AsyncIterable<Iterable<RawRow>>;
}

export function isJsonLines(path: string): boolean {
  return /\.(jsonl|ndjson)$/i.test(path);
}

export function isParquet(path: string): boolean {
  return /\.parquet$/i.test(path);
}

export interface OpenOptions {
  /**
   * Track each field's line and column for error messages, and check JSON Lines objects for repeated keys
   * (the default). Passes over data that an earlier pass has validated turn it off: the CSV parser's
   * per-record position bookkeeping is a third of its time.
   */
  positions?: boolean;
  /** Parse CSV in a worker thread (passes without positions only). */
  worker?: boolean;
}

/** Streams rows of a CSV (quoted fields, CRLF, BOM) or JSON Lines file; memory does not grow with the file. */
export function openRows(path: string, options: OpenOptions = {}): RowSource {
  if (path === "-") return csv(path, options.positions ?? true); // stdin: CSV
  if (!isParquet(path) && !isJsonLines(path) && !/\.csv$/i.test(path)) {
    const ext = extname(path);
    throw new UserError(`cannot read ${path}: ${ext ? `'${ext}' files are not supported` : "a data file needs an extension"}; mdr reads .csv, .jsonl / .ndjson and .parquet (or CSV from stdin as -)`);
  }
  try {
    if (statSync(path).isDirectory()) throw new UserError(`cannot read ${path}: it is a folder, not a data file`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read ${path}: ${describeFsError(e)}`);
  }
  if (isParquet(path)) return parquet(path);
  if (isJsonLines(path)) return jsonLines(path, options.positions ?? true);
  return options.worker && options.positions === false ? csvInWorker(path) : csv(path, options.positions ?? true);
}

/** Wraps a generator of row chunks so the columns can be read before iterating (by pulling the first row). */
function peekable(gen: AsyncIterator<Iterable<RawRow>>, columnsOf: (first: RawRow | undefined) => string[]): RowSource {
  let first: Promise<{ row?: RawRow; rest?: Iterator<RawRow> }> | undefined;
  const peek = () => (first ??= (async () => {
    for (;;) {
      const chunk = await gen.next();
      if (chunk.done) return {};
      const rest = chunk.value[Symbol.iterator]();
      const r = rest.next();
      if (!r.done) return { row: r.value, rest };
    }
  })());
  const chunks = async function* (): AsyncGenerator<Iterable<RawRow>> {
    const { row, rest } = await peek();
    if (!row) return;
    yield [row];
    yield { [Symbol.iterator]: () => rest! };
    for (let c = await gen.next(); !c.done; c = await gen.next()) yield c.value;
  };
  return {
    columns: async () => columnsOf((await peek()).row),
    chunks,
    async *rows() {
      for await (const chunk of chunks()) yield* chunk;
    },
  };
}

/** Rows one by one as chunks of one, for `peekable`. */
async function* ones(rows: AsyncIterable<RawRow>): AsyncGenerator<Iterable<RawRow>> {
  for await (const row of rows) yield [row];
}

function csv(path: string, positions: boolean): RowSource {
  let header: string[] | undefined;
  const rowsOf = function* (records: Iterable<CsvRecord>): Generator<RawRow> {
    for (const r of records) {
      if (!header) {
        header = r.record;
        continue;
      }
      const row = csvRow(header, r.record, r.line);
      if (positions) {
        row.columns = {};
        for (let i = 0; i < header.length; i++) row.columns[header[i]] = i + 1;
      }
      yield row;
    }
  };
  const iterate = async function* (): AsyncGenerator<Iterable<RawRow>> {
    for await (const chunk of csvRecordChunks(path, positions)) yield rowsOf(chunk);
  };
  return peekable(iterate(), () => header!);
}

/** A CSV record as a row, its cells named by the header. */
export function csvRow(header: readonly string[], record: readonly string[], line: number): RawRow {
  const values: Record<string, unknown> = {};
  for (let i = 0; i < header.length; i++) values[header[i]] = record[i];
  return { values, line };
}

/**
 * A CSV file parsed in a worker thread while the caller works (a training epoch's step runs on the main
 * thread): rows arrive in chunks of compact strings, a few chunks ahead at most. For passes over a file
 * an earlier pass checked (no positions).
 */
function csvInWorker(path: string): RowSource {
  let header: string[] | undefined;
  const rowsOf = function* (rows: (string | string[])[]): Generator<RawRow> {
    for (const row of rows) {
      if (typeof row === "string") {
        yield unpackRow(row, header!);
      } else {
        const values: Record<string, unknown> = {};
        for (let i = 0; i < header!.length; i++) values[header![i]] = row[i + 1];
        yield { values, line: Number(row[0]) };
      }
    }
  };
  const iterate = async function* (): AsyncGenerator<Iterable<RawRow>> {
    for await (const m of workerMessages<CsvMessage>(new URL("./csv-worker.js", import.meta.url), { path, csvWorker: true }, undefined, PARSING_WORKER)) {
      if (m.kind === "header") header = m.header;
      else yield rowsOf(m.rows);
    }
  };
  return peekable(iterate(), () => header!);
}

/** JSON Lines; `validate` (off on passes over data an earlier pass checked) also looks for repeated keys. */
function jsonLines(path: string, validate: boolean): RowSource {
  const iterate = async function* (): AsyncGenerator<RawRow> {
    const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    let line = 0;
    for await (const text of rl) {
      line++;
      const t = line === 1 ? text.replace(/^\uFEFF/, "") : text;
      if (t.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(t);
      } catch (e) {
        throw new DataError(path, line, undefined, `not valid JSON: ${(e as Error).message}`);
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new DataError(path, line, undefined, "each line must be a JSON object");
      const keys = validate ? topLevelKeys(t) : undefined;
      if (keys && keys.length !== Object.keys(value).length) {
        const dup = keys.find((k, i) => keys.indexOf(k) !== i);
        throw new DataError(path, line, undefined, `the object names '${dup}' twice; JSON would silently keep only the last`);
      }
      yield { values: value as Record<string, unknown>, line };
    }
  };
  return peekable(ones(iterate()), (first) => {
    if (!first) throw new DataError(path, 1, undefined, "the file is empty");
    return Object.keys(first.values);
  });
}

/**
 * Parquet, one row group at a time (memory follows the file's row-group size, not its length). Positions
 * are row numbers (1-based) and column numbers in the file's schema. Decoding runs in a worker with a time
 * limit per row group, so a damaged file fails in bounded time instead of spinning forever.
 */
function parquet(path: string): RowSource {
  let columnNames: string[] | undefined;
  const iterate = async function* (): AsyncGenerator<RawRow> {
    const worker = new Worker(new URL("./parquet-worker.js", import.meta.url), { workerData: { path } });
    const next = (what: string, rows: number): Promise<ParquetMessage> => new Promise((resolve, reject) => {
      const limit = parquetTimeLimitMs(rows);
      const timer = setTimeout(() => {
        cleanup();
        reject(new DataError(path, 1, undefined, `${what} could not be decoded within ${Math.round(limit / 1000)} s; the file is damaged or not Parquet`));
      }, limit);
      const onMessage = (m: ParquetMessage) => {
        cleanup();
        if (m.kind === "error") reject(new DataError(path, 1, undefined, `not a readable Parquet file: ${m.message}`));
        else resolve(m);
      };
      const onError = (e: Error) => {
        cleanup();
        reject(new DataError(path, 1, undefined, `not a readable Parquet file: ${e.message}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
    });
    try {
      const head = (await next("the file's metadata", 0)) as Extract<ParquetMessage, { kind: "columns" }>;
      columnNames = head.columns;
      const columns = Object.fromEntries(head.columns.map((n, i) => [n, i + 1]));
      let row = 0;
      for (const [g, n] of head.groups.entries()) {
        const reply = next(`row group ${g + 1} (rows ${row + 1}–${row + n})`, n);
        worker.postMessage("next");
        const { rows } = (await reply) as Extract<ParquetMessage, { kind: "rows" }>;
        for (const values of rows) yield { values, line: ++row, columns };
      }
      if (row === 0) throw new DataError(path, 1, undefined, "the file is empty");
    } finally {
      await worker.terminate();
    }
  };
  return peekable(ones(iterate()), (first) => {
    if (!first) throw new DataError(path, 1, undefined, "the file is empty");
    return columnNames ?? Object.keys(first.values);
  });
}

/** Generous for real files (hyparquet decodes millions of values a second); MDR_PARQUET_TIMEOUT_MS overrides the base. */
function parquetTimeLimitMs(rows: number): number {
  const base = Number(process.env.MDR_PARQUET_TIMEOUT_MS) || 30_000;
  return base + rows / 10;
}

/** The keys of a JSON object's top level as written (JSON.parse keeps one of each; duplicates show up here). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth === 1) {
        let j = i + 1;
        while (j < text.length && /\s/.test(text[j])) j++;
        if (text[j] === ":") keys.push(JSON.parse(text.slice(start, i + 1)) as string);
      }
    } else if (c === "{" || c === "[") {
      depth++;
    } else if (c === "}" || c === "]") {
      depth--;
    }
  }
  return keys;
}
