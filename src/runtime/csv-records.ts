import { closeSync, createReadStream, fstatSync, openSync, readSync } from "node:fs";
import { parse } from "csv-parse";
import { DataError } from "./cells.js";

/**
 * A CSV file's records, the header first (trimmed, checked for repeated names), every row checked to have
 * the header's field count. Without positions the record number stands in for the line (exact unless
 * cells span lines). They come a read chunk at a time: a loop over a file's records then awaits once per
 * chunk, not once per record (each await costs microseconds, more than splitting the line). Each chunk is
 * checked and split as it is iterated, and must be taken whole before the next is asked for.
 */
export async function* csvRecordChunks(path: string, positions: boolean): AsyncGenerator<Iterable<CsvRecord>> {
  let width: number | undefined;
  const checked = function* (records: Iterable<CsvRecord>): Generator<CsvRecord> {
    for (const { record, line } of records) {
      if (width === undefined) {
        const header = checkedHeader(path, line, record);
        width = header.length;
        yield { record: header, line };
        continue;
      }
      yield ofWidth(path, { record, line }, width);
    }
  };
  try {
    if (positions || path === "-") {
      for await (const record of parsedRecords(path, positions)) yield checked([record]);
    } else {
      for await (const chunk of uncheckedRecords(path)) yield checked(chunk);
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    const err = e as { code?: string; lines?: number; message: string };
    if (err.code?.startsWith("CSV_")) throw new DataError(path, err.lines ?? 0, undefined, err.message.replace(/^Invalid \w+: /, ""));
    throw e;
  }
  if (width === undefined) throw new DataError(path, 1, undefined, "the file is empty (no header row)");
}

/** The header's names, trimmed, each once. */
function checkedHeader(path: string, line: number, record: string[]): string[] {
  const header = record.map((h) => h.trim());
  const seen = new Map<string, number>();
  header.forEach((h, i) => {
    if (seen.has(h)) throw new DataError(path, line, i + 1, `the header names column '${h}' twice (columns ${seen.get(h)! + 1} and ${i + 1})`);
    seen.set(h, i);
  });
  return header;
}

/** A record of the header's width, or the error that names its line. */
function ofWidth(path: string, r: CsvRecord, width: number): CsvRecord {
  if (r.record.length !== width) throw new DataError(path, r.line, undefined, `row has ${r.record.length} fields but the header has ${width}`);
  return r;
}

/** Records as csv-parse reads them (quoted fields, CRLF or CR, BOM), after the first `skip`. */
async function* parsedRecords(path: string, positions: boolean, skip = 0): AsyncGenerator<CsvRecord> {
  const parser = (path === "-" ? process.stdin : createReadStream(path)).pipe(parse({ bom: true, info: positions, skip_empty_lines: true, relax_column_count: true }));
  let records = 0;
  for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } } | string[]>) {
    if (++records <= skip) continue;
    if (positions) yield { record: (rec as { record: string[] }).record, line: (rec as { info: { lines: number } }).info.lines };
    else yield { record: rec as string[], line: records };
  }
}

/**
 * Records of a file without positions: split natively (String.split, several times faster than csv-parse)
 * while they are plain — no quote, and every line ended as the file's first line is (LF or CRLF; csv-parse
 * takes that first line end as the record delimiter for the whole file) — where both give the same
 * records. From the first record that is not, csv-parse takes over after the records already read.
 */
async function* uncheckedRecords(path: string): AsyncGenerator<Iterable<CsvRecord>> {
  const batches = plainRecords(createReadStream(path, { highWaterMark: 1 << 20 }));
  for (;;) {
    const r = await batches.next();
    if (!r.done) {
      yield r.value;
      continue;
    }
    if (!r.value.plain) for await (const record of parsedRecords(path, false, r.value.records)) yield [record];
    return;
  }
}

export type CsvRecord = { record: string[]; line: number };
type LineEnd = "\n" | "\r\n";

/**
 * The records of plain lines in a stream of a file's bytes that starts at a line start, ended by `ending`
 * (by default the first line's), a read chunk's at a time (each taken whole before the next). Stops
 * before the first record that is not plain, saying so and how many records it yielded.
 */
async function* plainRecords(chunks: AsyncIterable<unknown>, known?: LineEnd): AsyncGenerator<Iterable<CsvRecord>, { plain: boolean; records: number }> {
  const decoder = new TextDecoder(); // drops a leading BOM, as csv-parse's `bom` does
  let records = 0;
  let rest = "";
  let ending: "\n" | "\r\n" | "\r" | undefined = known;
  let plain = true;
  /**
   * The records of whole lines, up to the first that is not plain (which turns `plain` false), split as
   * they are taken: a chunk's records all alive at once would outlive the young generation.
   */
  const plainLines = function* (text: string): Generator<CsvRecord> {
    for (const line of text.split(ending!)) {
      if (line.includes("\r") || (ending === "\r\n" && line.includes("\n"))) {
        plain = false;
        return;
      }
      if (line !== "") yield { record: line.split(","), line: ++records };
    }
  };
  const stop = () => ({ plain: false, records });
  for await (const chunk of chunks) {
    const text = rest + decoder.decode(chunk as Buffer, { stream: true });
    if (text.includes('"')) return stop();
    ending ??= lineEnd(text, false);
    if (ending === "\r") return stop();
    const end = ending === undefined ? -1 : text.lastIndexOf(ending);
    if (end < 0) {
      rest = text;
      continue;
    }
    rest = text.slice(end + ending!.length);
    yield plainLines(text.slice(0, end));
    if (!plain) return stop();
  }
  const last = rest + decoder.decode();
  ending ??= lineEnd(last, true) ?? "\n";
  if (last.includes('"') || ending === "\r") return stop();
  yield plainLines(last);
  return { plain, records };
}

/** Bytes [start, end) of a CSV file, from a line start to a line start, its lines ended by `ending`. */
export interface CsvPart {
  start: number;
  end: number;
  ending: LineEnd;
}

/**
 * A plain CSV file (see uncheckedRecords) cut into `count` parts at line starts, with its header; undefined
 * where the header already is not plain or the file has too few lines. Each part can be read on its own.
 */
export function csvParts(path: string, count: number): { header: string[]; parts: CsvPart[] } | undefined {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const headerEnd = nextLineStart(fd, 0, size);
    if (headerEnd === undefined) return undefined;
    const first = new TextDecoder().decode(readBytes(fd, 0, headerEnd));
    const ending: LineEnd = first.endsWith("\r\n") ? "\r\n" : "\n";
    const headerLine = first.slice(0, -ending.length);
    if (headerLine === "" || headerLine.includes('"') || headerLine.includes("\r")) return undefined;
    const header = checkedHeader(path, 1, headerLine.split(","));
    const starts = [0];
    for (let i = 1; i < count; i++) {
      const start = nextLineStart(fd, Math.max(Math.floor((i * size) / count), headerEnd) - 1, size);
      if (start !== undefined && start < size && start > starts[starts.length - 1]) starts.push(start);
    }
    return { header, parts: starts.map((start, i) => ({ start, end: starts[i + 1] ?? size, ending })) };
  } finally {
    closeSync(fd);
  }
}

/** Thrown by partRecords where a part holds text only csv-parse reads right (quotes, other line ends). */
export class NotPlain extends Error {}

/**
 * The records of one part of a plain CSV file (csvParts), a read chunk's at a time, the header skipped, each checked to have `width`
 * fields. Line numbers count from the part's start: a pass over parts is a fast pass, and any problem it
 * finds is located again by a pass with positions.
 */
export async function* partRecords(path: string, part: CsvPart, width: number): AsyncGenerator<Iterable<CsvRecord>> {
  const batches = plainRecords(createReadStream(path, { start: part.start, end: part.end - 1, highWaterMark: 1 << 20 }), part.ending);
  let header = part.start === 0;
  const checked = function* (records: Iterable<CsvRecord>): Generator<CsvRecord> {
    for (const r of records) {
      if (header) {
        header = false;
        continue;
      }
      yield ofWidth(path, r, width);
    }
  };
  for (;;) {
    const r = await batches.next();
    if (r.done) {
      if (!r.value.plain) throw new NotPlain();
      return;
    }
    yield checked(r.value);
  }
}

/** Where the line holding byte `from` ends (the next line's start), if it ends before `size`. */
function nextLineStart(fd: number, from: number, size: number): number | undefined {
  const buffer = Buffer.alloc(1 << 12);
  for (let at = Math.max(from, 0); at < size; at += buffer.length) {
    const n = readSync(fd, buffer, 0, buffer.length, at);
    const lf = buffer.subarray(0, n).indexOf(10);
    if (lf >= 0) return at + lf + 1;
  }
  return undefined;
}

function readBytes(fd: number, start: number, end: number): Buffer {
  const buffer = Buffer.alloc(end - start);
  readSync(fd, buffer, 0, buffer.length, start);
  return buffer;
}

/** The first line end in `text`, if it can tell yet (a CR at the end of a chunk may start a CRLF). */
function lineEnd(text: string, atEnd: boolean): "\n" | "\r\n" | "\r" | undefined {
  const lf = text.indexOf("\n");
  const cr = text.indexOf("\r");
  if (cr < 0) return lf < 0 ? undefined : "\n";
  if (lf >= 0 && lf < cr) return "\n";
  if (cr === text.length - 1) return atEnd ? "\r" : undefined;
  return text[cr + 1] === "\n" ? "\r\n" : "\r";
}
