import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import ort from "onnxruntime-node";
import { mdrcVersion } from "../compiler/version.js";
import { UserError } from "../diagnostics/errors.js";
import { encodeBatch } from "../runtime/batch.js";
import { DataError, type RawRow } from "../runtime/cells.js";
import { domainOf } from "../runtime/rows.js";
import type { ExecutionProvider } from "../runtime/session.js";
import { ServerMetrics } from "./metrics.js";
import { datatypeOf, parseInferRequest, parseInstances, RequestError, requestDataError, servedInputs, servedOutputs } from "./protocol.js";
import { ModelRegistry, RETRIEVAL_OUTPUTS, type ModelVersion } from "./registry.js";
import { searchIndex } from "../runtime/retrieval-index.js";

export interface ServeOptions {
  /** Model folders by the name they are served under. */
  models: Record<string, string>;
  host?: string;
  port?: number;
  ep?: ExecutionProvider;
  threads?: number;
  maxBatch?: number;
  maxDelayMs?: number;
  /** False: one ORT run per request (for comparison). */
  batching?: boolean;
  /** Largest accepted request body. */
  maxBodyBytes?: number;
  /** Write one JSON line per request to stdout. */
  logRequests?: boolean;
}

export interface Server {
  url: string;
  registry: ModelRegistry;
  metrics: ServerMetrics;
  /** Stops accepting, finishes every request in flight, releases the models. */
  close(): Promise<void>;
}

interface ModelParams {
  name: string;
  version?: string;
}

/** Starts the HTTP server once every model has loaded; see `mdr serve`. */
export async function serve(options: ServeOptions): Promise<Server> {
  const metrics = new ServerMetrics();
  const registry = new ModelRegistry({
    ep: options.ep, threads: options.threads,
    batching: { maxBatch: options.maxBatch ?? 4096, maxDelayMs: options.maxDelayMs ?? 0, batching: options.batching ?? true },
    onRun: (model, rows, requests) => {
      metrics.batchRows.observe({ model }, rows);
      metrics.batchRequests.observe({ model }, requests);
    },
    onLoad: (v) => {
      metrics.loadSeconds.observe({ model: v.name }, v.loadSeconds);
      metrics.version.set({ model: v.name }, v.version);
    },
  });
  for (const [name, dir] of Object.entries(options.models)) await registry.load(name, dir);

  let draining = false;
  const app = Fastify({
    logger: options.logRequests ? { level: "info" } : false,
    logController: new LogController({ disableRequestLogging: true }), // one line per request, written below
    bodyLimit: options.maxBodyBytes ?? 16 * 1024 * 1024,
    return503OnClosing: true,
  });
  // Only JSON bodies: a text/plain body would otherwise arrive as a string.
  app.removeContentTypeParser("text/plain");
  // While draining, every response closes its connection, so keep-alive clients do not hold the exit.
  app.addHook("onSend", async (_req, reply) => {
    if (draining) reply.header("connection", "close");
  });
  routes(app, registry, metrics, () => draining);
  const address = await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8080 }).catch((e: NodeJS.ErrnoException) => {
    void registry.close();
    throw new UserError(e.code === "EADDRINUSE" ? `port ${options.port} is in use; choose another with --port` : `cannot listen: ${e.message}`);
  });
  return {
    url: address,
    registry,
    metrics,
    close: async () => {
      draining = true;
      await app.close();
      await registry.close();
    },
  };
}

function routes(app: FastifyInstance, registry: ModelRegistry, metrics: ServerMetrics, draining: () => boolean): void {
  /** The model named in a route, or a 404; a version, when given, must be the one served. */
  const modelOf = (p: ModelParams): ModelVersion => {
    const v = registry.get(p.name);
    if (!v) throw new RequestError(404, `no model named '${p.name}' (serving: ${registry.names().join(", ")})`, "not_found");
    if (p.version !== undefined && p.version !== String(v.version)) {
      throw new RequestError(404, `version ${p.version} of model '${p.name}' is not loaded (serving version ${v.version})`, "not_found");
    }
    return v;
  };
  const known = (name: unknown) => (typeof name === "string" && registry.get(name) ? name : "");

  app.addHook("onResponse", async (req: FastifyRequest, reply: FastifyReply) => {
    const model = known(modelName(req));
    const endpoint = req.routeOptions.url ?? "unknown";
    metrics.requests.inc({ model, endpoint, code: reply.statusCode });
    metrics.latency.observe({ model, endpoint }, reply.elapsedTime / 1000);
    req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Number(reply.elapsedTime.toFixed(3)), model: model || undefined }, "request");
  });
  app.setErrorHandler((e: FastifyError | RequestError, req, reply) => {
    const model = known(modelName(req));
    if (e instanceof RequestError) {
      metrics.errors.inc({ model, kind: e.kind });
      return reply.code(e.status).send({ error: e.message });
    }
    const status = e.statusCode ?? 500;
    if (status < 500) {
      metrics.errors.inc({ model, kind: status === 413 ? "too_large" : "bad_request" });
      const message = e.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? `the request body is larger than the server's limit (--max-body-bytes)` : e.message;
      return reply.code(status).send({ error: message });
    }
    metrics.errors.inc({ model, kind: "internal" });
    req.log.error(e);
    process.stderr.write(`mdr serve: internal error on ${req.method} ${req.url}: ${e.stack ?? e.message}\n`);
    return reply.code(500).send({ error: "internal error; the server log has the details" });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no endpoint ${req.method} ${req.url.split("?")[0]}` }));

  healthRoutes(app, registry, draining);
  modelRoutes(app, modelOf, draining);
  repositoryRoutes(app, registry);
  app.get("/metrics", async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
}

function healthRoutes(app: FastifyInstance, registry: ModelRegistry, draining: () => boolean): void {
  app.get("/v2", async () => ({ name: "mdrc", version: mdrcVersion, extensions: ["model_repository"] }));
  app.get("/v2/health/live", async () => ({ live: true }));
  app.get("/v2/health/ready", async (_req, reply) => {
    const ready = !draining() && registry.names().every((n) => registry.get(n));
    return reply.code(ready ? 200 : 503).send({ ready });
  });
}

/** Metadata, readiness and inference of one model (v2), and its row form (v1). */
function modelRoutes(app: FastifyInstance, modelOf: (p: ModelParams) => ModelVersion, draining: () => boolean): void {
  const metadata = async (req: FastifyRequest) => {
    const v = modelOf(req.params as ModelParams);
    const m = v.manifest;
    return {
      name: v.name, versions: [String(v.version)], platform: "onnxruntime_onnx",
      inputs: servedInputs(m).map(({ name, datatype, shape }) => ({ name, datatype, shape })),
      outputs: servedOutputs(m),
      parameters: {
        mdrc_version: m.mdrc_version, spec_sha256: m.spec_sha256, label: m.label, domain: m.domain, loaded_at: v.loadedAt.toISOString(),
        ...(v.retrieval ? { task: "retrieval", item_id: v.retrieval.manifest.item_id, items: v.retrieval.index.ids.length } : {}),
      },
    };
  };
  app.get("/v2/models/:name", metadata);
  app.get("/v2/models/:name/versions/:version", metadata);
  const ready = async (req: FastifyRequest) => {
    modelOf(req.params as ModelParams);
    return { ready: !draining() };
  };
  app.get("/v2/models/:name/ready", ready);
  app.get("/v2/models/:name/versions/:version/ready", ready);
  const infer = async (req: FastifyRequest) => {
    const v = modelOf(req.params as ModelParams);
    const r = parseInferRequest(req.body, v.manifest, v.name);
    const out = await run(v, r.rows, "row");
    if (v.retrieval) Object.assign(out, topItems(v, out.embedding, topKOf(req.body)));
    const wanted = r.outputs ?? v.manifest.outputs.map((o) => o.name);
    return {
      model_name: v.name, model_version: String(v.version), ...(r.id !== undefined ? { id: r.id } : {}),
      outputs: wanted.map((name) => {
        const t = out[name];
        return { name, datatype: datatypeOf(t.type), shape: [...t.dims], data: t.type === "string" ? [...(t.data as string[])] : Array.from(t.data as Float32Array, Number) };
      }),
    };
  };
  app.post("/v2/models/:name/infer", infer);
  app.post("/v2/models/:name/versions/:version/infer", infer);
  // KServe v1's row form: {"instances": [{column: value}, …]} → {"predictions": [probability, …]}.
  app.post("/v1/models/:call", async (req: FastifyRequest) => {
    const call = (req.params as { call: string }).call;
    if (!call.endsWith(":predict")) throw new RequestError(404, `no endpoint POST ${req.url.split("?")[0]}; rows go to /v1/models/<name>:predict`, "not_found");
    const v = modelOf({ name: call.slice(0, -":predict".length) });
    const out = await run(v, parseInstances(req.body), "instance");
    if (v.retrieval) {
      const top = topItems(v, out.embedding, topKOf(req.body));
      const k = top.item_ids.dims[1];
      const ids = top.item_ids.data as string[];
      const scores = top.scores.data as Float32Array;
      const predictions = Array.from({ length: ids.length / Math.max(k, 1) }, (_, i) => ({ item_ids: ids.slice(i * k, (i + 1) * k), scores: Array.from(scores.subarray(i * k, (i + 1) * k), Number) }));
      return { predictions, model_version: String(v.version) };
    }
    return { predictions: Array.from(out.probability.data as Float32Array, Number), model_version: String(v.version) };
  });
}

/** `parameters.top_k` of a request: how many items a retrieval model answers per row (default 100). */
function topKOf(body: unknown): number {
  const k = (body as { parameters?: { top_k?: unknown } })?.parameters?.top_k;
  if (k === undefined) return 100;
  if (typeof k !== "number" || !Number.isSafeInteger(k) || k < 1 || k > 10_000) throw new RequestError(400, `parameters.top_k must be a whole number from 1 to 10000, got ${JSON.stringify(k)}`);
  return k;
}

/** The index's top-k items for each row's query embedding. */
function topItems(v: ModelVersion, embedding: ort.Tensor, k: number): Record<(typeof RETRIEVAL_OUTPUTS)[number], ort.Tensor> {
  const { index, manifest } = v.retrieval!;
  const dim = manifest.embedding.dim;
  const top = searchIndex(index.index, embedding.data as Float32Array, dim, k);
  const n = embedding.dims[0];
  return {
    item_ids: new ort.Tensor("string", Array.from(top.ids, (i) => (i < 0 ? "" : index.ids[i])), [n, top.k]),
    scores: new ort.Tensor("float32", top.scores, [n, top.k]),
  };
}

function repositoryRoutes(app: FastifyInstance, registry: ModelRegistry): void {
  app.post("/v2/repository/index", async () => registry.names().map((name) => ({ name, version: String(registry.get(name)?.version ?? ""), state: registry.get(name) ? "READY" : "UNAVAILABLE" })));
  // Reloads a model from its folder (a retrained run, a recompiled model, a symlink pointed elsewhere).
  app.post("/v2/repository/models/:name/load", async (req: FastifyRequest) => {
    const { name } = req.params as ModelParams;
    if (!registry.get(name)) throw new RequestError(404, `no model named '${name}'; models are named when the server starts`, "not_found");
    try {
      const v = await registry.load(name);
      return { name, version: String(v.version) };
    } catch (e) {
      if (e instanceof UserError) throw new RequestError(400, `the new version did not load, and version ${registry.get(name)!.version} stays: ${e.message}`);
      throw e;
    }
  });
}

/** The model a request names, in a /v2 path parameter or a /v1 `<name>:predict`. */
function modelName(req: FastifyRequest): string | undefined {
  const p = req.params as { name?: string; call?: string } | undefined;
  return p?.name ?? p?.call?.replace(/:predict$/, "");
}

/**
 * Validates and encodes a request's rows on the version it arrived at (synchronously, so that version
 * cannot be retired in between) and hands them to that version's batcher.
 */
function run(v: ModelVersion, rows: RawRow[], what: "row" | "instance"): Promise<Record<string, ort.Tensor>> {
  let feeds: Record<string, ort.Tensor>;
  try {
    for (const row of rows) {
      if (domainOf(v.manifest.domain, row, "request") === undefined) {
        throw new RequestError(400, `${what} ${row.line}: domain value '${String(row.values[v.manifest.domain.column] ?? "")}' is not one of ${v.manifest.domain.values.join(", ")}; the model skips such rows when scoring files, but a request gets an answer for every row`);
      }
    }
    feeds = encodeBatch(v.manifest, rows, "request");
  } catch (e) {
    if (e instanceof DataError) throw requestDataError(e, what);
    throw e;
  }
  return v.batcher.submit(feeds, rows.length);
}
