/**
 * Turns GroupLens ml-latest-small (shipped beside this file, with its README and licence) into the
 * multi-domain task of the examples: label = rating ≥ 4, domain = the movie's primary genre (small genres
 * merged into `other`), split by time (the honest split for recommendation): the oldest 80% of ratings
 * train, the next 10% validate, the newest 10% test.
 *
 *   node dist/examples/movielens/prepare.js [out-dir]     (default examples/movielens/data)
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";

const here = new URL("../../../examples/movielens/", import.meta.url).pathname;
const DOMAINS = ["action", "comedy", "drama", "adventure", "crime"];
const COLUMNS = ["userId", "movieId", "genres", "year", "movie_count", "hour", "weekday", "domain", "label", "timestamp"];

export function prepareMovieLens(outDir: string, source = join(here, "ml-latest-small")): Record<string, number> {
  const movies = new Map<string, { genres: string; year: string; domain: string }>();
  for (const [movieId, title, genres] of (parse(readFileSync(join(source, "movies.csv")), { from_line: 2 }) as string[][])) {
    const primary = genres.split("|")[0].toLowerCase();
    const year = /\((\d{4})\)\s*$/.exec(title.trim())?.[1] ?? "";
    movies.set(movieId, { genres: genres === "(no genres listed)" ? "" : genres, year, domain: DOMAINS.includes(primary) ? primary : "other" });
  }
  const ratings = (parse(readFileSync(join(source, "ratings.csv")), { from_line: 2 }) as string[][])
    .map(([userId, movieId, rating, timestamp]) => ({ userId, movieId, rating: Number(rating), timestamp: Number(timestamp) }))
    // Stable order: by time, then user and movie, so the split is reproducible.
    .sort((a, b) => a.timestamp - b.timestamp || Number(a.userId) - Number(b.userId) || Number(a.movieId) - Number(b.movieId));
  const nTrain = Math.floor(ratings.length * 0.8);
  const nValid = Math.floor(ratings.length * 0.1);
  const splits = { train: ratings.slice(0, nTrain), valid: ratings.slice(nTrain, nTrain + nValid), test: ratings.slice(nTrain + nValid) };
  // Popularity from the training period only, so validation and test rows carry no future information.
  const counts = new Map<string, number>();
  for (const r of splits.train) counts.set(r.movieId, (counts.get(r.movieId) ?? 0) + 1);
  mkdirSync(outDir, { recursive: true });
  const sizes: Record<string, number> = {};
  for (const [name, rows] of Object.entries(splits)) {
    const lines = [COLUMNS.join(",")];
    for (const r of rows) {
      const m = movies.get(r.movieId)!;
      const t = new Date(r.timestamp * 1000);
      lines.push([r.userId, r.movieId, m.genres, m.year, counts.get(r.movieId) ?? 0, t.getUTCHours(), t.getUTCDay(), m.domain, r.rating >= 4 ? 1 : 0, r.timestamp].join(","));
    }
    const path = join(outDir, `${name}.csv`);
    writeFileSync(`${path}.tmp`, lines.join("\n") + "\n");
    renameSync(`${path}.tmp`, path);
    sizes[name] = rows.length;
  }
  return sizes;
}

if (process.argv[1]?.endsWith("prepare.js")) {
  const out = process.argv[2] ?? join(here, "data");
  const sizes = prepareMovieLens(out);
  process.stdout.write(`wrote ${out}/{train,valid,test}.csv: ${Object.entries(sizes).map(([k, v]) => `${k} ${v}`).join(", ")} rows\n`);
}
