/**
 * The retrieval task of the examples, from the same ml-latest-small ratings: a user browses a genre shelf
 * (the domain, known at query time) and the positive is a movie of that shelf they rated 4 or more.
 * Query columns describe the user before the event — their id, the movies they rated 4+ before it
 * (newest first, at most 20) and those movies' genres — so nothing from the event or after it leaks in.
 * Split by time like the ranking task: oldest 80% of positive events train, next 10% validate, newest 10%
 * test. items.csv lists every movie (the catalogue an index is built from).
 *
 *   node dist/examples/movielens/prepare-retrieval.js [out-dir]     (default examples/movielens/data/retrieval)
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";

const here = new URL("../../../examples/movielens/", import.meta.url).pathname;
const DOMAINS = ["action", "comedy", "drama", "adventure", "crime"];
const HISTORY = 20;
const PAIR_COLUMNS = ["userId", "history", "history_genres", "shelf", "movieId", "genres", "year", "timestamp"];

interface Movie { genres: string; year: string; shelf: string }

function readMovies(source: string): Map<string, Movie> {
  const movies = new Map<string, Movie>();
  for (const [movieId, title, genres] of (parse(readFileSync(join(source, "movies.csv")), { from_line: 2 }) as string[][])) {
    const primary = genres.split("|")[0].toLowerCase();
    const year = /\((\d{4})\)\s*$/.exec(title.trim())?.[1] ?? "";
    movies.set(movieId, { genres: genres === "(no genres listed)" ? "" : genres, year, shelf: DOMAINS.includes(primary) ? primary : "other" });
  }
  return movies;
}

function writeCsv(path: string, header: string[], rows: (string | number)[][]): void {
  const quote = (v: string | number) => (typeof v === "string" && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
  writeFileSync(`${path}.tmp`, [header.join(","), ...rows.map((r) => r.map(quote).join(","))].join("\n") + "\n");
  renameSync(`${path}.tmp`, path);
}

export function prepareRetrieval(outDir: string, source = join(here, "ml-latest-small")): Record<string, number> {
  const movies = readMovies(source);
  const positives = (parse(readFileSync(join(source, "ratings.csv")), { from_line: 2 }) as string[][])
    .map(([userId, movieId, rating, timestamp]) => ({ userId, movieId, rating: Number(rating), timestamp: Number(timestamp) }))
    .filter((r) => r.rating >= 4)
    .sort((a, b) => a.timestamp - b.timestamp || Number(a.userId) - Number(b.userId) || Number(a.movieId) - Number(b.movieId));
  // Each user's earlier positives, strictly before the event's second (ties in time are not "before").
  const liked = new Map<string, { movieId: string; timestamp: number }[]>();
  const rows = positives.map((r) => {
    const past = (liked.get(r.userId) ?? []).filter((p) => p.timestamp < r.timestamp).slice(-HISTORY).reverse();
    const m = movies.get(r.movieId)!;
    const genres = [...new Set(past.flatMap((p) => movies.get(p.movieId)!.genres.split("|").filter(Boolean)))];
    const row = [r.userId, past.map((p) => p.movieId).join("|"), genres.join("|"), m.shelf, r.movieId, m.genres, m.year, r.timestamp];
    if (!liked.has(r.userId)) liked.set(r.userId, []);
    liked.get(r.userId)!.push({ movieId: r.movieId, timestamp: r.timestamp });
    return row;
  });
  const nTrain = Math.floor(rows.length * 0.8);
  const nValid = Math.floor(rows.length * 0.1);
  const splits = { train: rows.slice(0, nTrain), valid: rows.slice(nTrain, nTrain + nValid), test: rows.slice(nTrain + nValid) };
  mkdirSync(outDir, { recursive: true });
  for (const [name, part] of Object.entries(splits)) writeCsv(join(outDir, `${name}.csv`), PAIR_COLUMNS, part);
  writeCsv(join(outDir, "items.csv"), ["movieId", "genres", "year"], [...movies].map(([id, m]) => [id, m.genres, m.year]));
  return { ...Object.fromEntries(Object.entries(splits).map(([k, v]) => [k, v.length])), items: movies.size };
}

if (process.argv[1]?.endsWith("prepare-retrieval.js")) {
  const out = process.argv[2] ?? join(here, "data", "retrieval");
  const sizes = prepareRetrieval(out);
  process.stdout.write(`wrote ${out}/{train,valid,test,items}.csv: ${Object.entries(sizes).map(([k, v]) => `${k} ${v}`).join(", ")} rows\n`);
}
