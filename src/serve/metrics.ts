import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The server's Prometheus metrics, on a registry of its own (several servers may share a process in tests). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: "mdr_requests_total", help: "HTTP requests by model, endpoint and status code", labelNames: ["model", "endpoint", "code"], registers: [this.registry] });
  readonly errors = new Counter({ name: "mdr_request_errors_total", help: "Refused or failed requests by kind", labelNames: ["model", "kind"], registers: [this.registry] });
  readonly latency = new Histogram({
    name: "mdr_request_duration_seconds", help: "Request latency, from arrival to response", labelNames: ["model", "endpoint"], registers: [this.registry],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
  readonly batchRows = new Histogram({
    name: "mdr_batch_rows", help: "Rows per ONNX Runtime run", labelNames: ["model"], registers: [this.registry],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
  });
  readonly batchRequests = new Histogram({
    name: "mdr_batch_requests", help: "Requests coalesced into one run", labelNames: ["model"], registers: [this.registry],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
  });
  readonly loadSeconds = new Histogram({ name: "mdr_model_load_seconds", help: "Time to load a model version", labelNames: ["model"], registers: [this.registry], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
  readonly version = new Gauge({ name: "mdr_model_version", help: "Version of each model now served", labelNames: ["model"], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
