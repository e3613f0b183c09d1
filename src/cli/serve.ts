import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import { UserError } from "../diagnostics/errors.js";
import { serve } from "../serve/server.js";
import { nonNegativeNumber, port, positiveInt } from "./options.js";

interface ServeFlags {
  host: string;
  port: number;
  threads?: number;
  maxBatch: number;
  maxDelayMs: number;
  batching: boolean;
  maxBodyBytes: number;
  ep: "cpu" | "cuda";
  logRequests?: boolean;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve compiled or trained models over HTTP (KServe v2 / Open Inference Protocol, with micro-batching)")
    .argument("<models...>", "model folders, each as <folder> (served under its model name) or <name>=<folder>")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <n>", "port (0: any free port)", port, 8080)
    .option("--threads <n>", "intra-op threads per model", positiveInt)
    .option("--max-batch <n>", "most rows coalesced into one run", positiveInt, 4096)
    .option("--max-delay-ms <ms>", "how long an idle model waits for more requests before it runs", nonNegativeNumber, 0)
    .option("--no-batching", "run every request on its own (for comparison)")
    .option("--max-body-bytes <n>", "largest request body accepted", positiveInt, 16 * 1024 * 1024)
    .addOption(new Option("--ep <provider>", "execution provider").choices(["cpu", "cuda"]).default("cpu"))
    .option("--log-requests", "write one JSON line per request to stdout")
    .action(async (specs: string[], o: ServeFlags) => {
      const models = modelFolders(specs);
      const server = await serve({ models, host: o.host, port: o.port, threads: o.threads, maxBatch: o.maxBatch, maxDelayMs: o.maxDelayMs, batching: o.batching, maxBodyBytes: o.maxBodyBytes, ep: o.ep, logRequests: o.logRequests });
      for (const name of Object.keys(models)) {
        const v = server.registry.get(name)!;
        process.stderr.write(`serving ${name} (version ${v.version}, ${v.dir}) at ${server.url}/v2/models/${name}\n`);
      }
      process.stderr.write(`ready; SIGHUP or POST /v2/repository/models/<name>/load reloads a model, SIGTERM drains and stops\n`);
      await new Promise<void>((done) => {
        const stop = (signal: string) => {
          process.stderr.write(`${signal}: finishing requests in flight, then stopping\n`);
          server.close().then(done, (e) => {
            process.stderr.write(`mdr serve: ${(e as Error).message}\n`);
            done();
          });
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
        process.on("SIGHUP", () => {
          for (const name of Object.keys(models)) {
            server.registry.load(name).then(
              (v) => process.stderr.write(`reloaded ${name}: version ${v.version}\n`),
              (e) => process.stderr.write(`reloading ${name} failed; the current version stays: ${(e as Error).message}\n`),
            );
          }
        });
      });
    });
}

/** `<folder>` or `<name>=<folder>` → folders by served name (a folder's name is its manifest's model name). */
function modelFolders(specs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of specs) {
    const eq = s.indexOf("=");
    const dir = eq > 0 ? s.slice(eq + 1) : s;
    const name = eq > 0 ? s.slice(0, eq) : manifestModelName(dir);
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new UserError(`'${name}' cannot name a served model: use letters, digits, '_', '.' and '-'`);
    if (out[name] !== undefined) throw new UserError(`two models are named '${name}' (${out[name]} and ${dir}); name them with <name>=<folder>`);
    out[name] = dir;
  }
  return out;
}

function manifestModelName(dir: string): string {
  const path = join(dir, "manifest.json");
  if (!existsSync(path)) return basename(dir); // loading the folder reports what is wrong with it
  try {
    const m = JSON.parse(readFileSync(path, "utf8")) as { model?: unknown };
    return typeof m.model === "string" ? m.model : basename(dir);
  } catch {
    return basename(dir);
  }
}
