import { createReadStream } from "node:fs";
import { parse } from "csv-parse";
import { DataError } from "./cells.js";

/**
 * A CSV file's records, the header first (trimmed, checked for repeated names), every row checked to have
 * the header's field count. Without positions the record number stands in for the line (exact unless
 * cells span lines).
 */
export async function* csvRecords(path: string, positions: boolean): AsyncGenerator<{ record: string[]; line: number }> {
  let width: number | undefined;
  try {
    for await (const { record, line } of positions || path === "-" ? parsedRecords(path, positions) : uncheckedRecords(path)) {
      if (width === undefined) {
        const header = record.map((h) => h.trim());
        const seen = new Map<string, number>();
        header.forEach((h, i) => {
          if (seen.has(h)) throw new DataError(path, line, i + 1, `the header names column '${h}' twice (columns ${seen.get(h)! + 1} and ${i + 1})`);
          seen.set(h, i);
        });
        width = header.length;
        yield { record: header, line };
        continue;
      }
      if (record.length !== width) throw new DataError(path, line, undefined, `row has ${record.length} fields but the header has ${width}`);
      yield { record, line };
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    const err = e as { code?: string; lines?: number; message: string };
    if (err.code?.startsWith("CSV_")) throw new DataError(path, err.lines ?? 0, undefined, err.message.replace(/^Invalid \w+: /, ""));
    throw e;
  }
  if (width === undefined) throw new DataError(path, 1, undefined, "the file is empty (no header row)");
}

/** Records as csv-parse reads them (quoted fields, CRLF or CR, BOM), after the first `skip`. */
async function* parsedRecords(path: string, positions: boolean, skip = 0): AsyncGenerator<{ record: string[]; line: number }> {
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
async function* uncheckedRecords(path: string): AsyncGenerator<{ record: string[]; line: number }> {
  const decoder = new TextDecoder(); // drops a leading BOM, as csv-parse's `bom` does
  let records = 0;
  let rest = "";
  let ending: "\n" | "\r\n" | "\r" | undefined;
  /** Yields the records of whole lines; false at the first that is not plain. */
  const plainLines = function* (text: string): Generator<{ record: string[]; line: number }, boolean> {
    for (const line of text.split(ending!)) {
      if (line.includes("\r") || (ending === "\r\n" && line.includes("\n"))) return false;
      if (line !== "") yield { record: line.split(","), line: ++records };
    }
    return true;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const text = rest + decoder.decode(chunk as Buffer, { stream: true });
    if (text.includes('"')) return yield* parsedRecords(path, false, records);
    ending ??= lineEnd(text, false);
    if (ending === "\r") return yield* parsedRecords(path, false, records);
    const end = ending === undefined ? -1 : text.lastIndexOf(ending);
    if (end < 0) {
      rest = text;
      continue;
    }
    rest = text.slice(end + ending!.length);
    if (!(yield* plainLines(text.slice(0, end)))) return yield* parsedRecords(path, false, records);
  }
  const last = rest + decoder.decode();
  ending ??= lineEnd(last, true) ?? "\n";
  if (last.includes('"') || ending === "\r" || !(yield* plainLines(last))) return yield* parsedRecords(path, false, records);
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
