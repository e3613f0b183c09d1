import ort from "onnxruntime-node";

/** Outputs of one ORT run, by output name. */
export type Outputs = Record<string, ort.Tensor>;

interface Pending {
  feeds: Record<string, ort.Tensor>;
  rows: number;
  resolve: (o: Outputs) => void;
  reject: (e: unknown) => void;
}

export interface BatcherOptions {
  /** Rows per coalesced run; a larger request runs alone. */
  maxBatch: number;
  /** How long an idle model waits for more requests before it runs; requests that arrive while a run is in progress always wait for the next one. */
  maxDelayMs: number;
  /** Off: every request is its own run (for comparison). */
  batching: boolean;
  /** Called once per run with its rows and requests. */
  onRun?: (rows: number, requests: number) => void;
}

/**
 * Coalesces concurrent requests into one ONNX Runtime run: at most one run is in progress, and the
 * requests that queue behind it form the next (up to maxBatch rows). Each request gets exactly its own
 * rows of every output back.
 */
export class MicroBatcher {
  private queue: Pending[] = [];
  private queuedRows = 0;
  private running = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly run: (feeds: Record<string, ort.Tensor>) => Promise<Outputs>, private readonly options: BatcherOptions) {}

  submit(feeds: Record<string, ort.Tensor>, rows: number): Promise<Outputs> {
    this.inFlight++;
    const done = new Promise<Outputs>((resolve, reject) => {
      if (!this.options.batching) {
        this.options.onRun?.(rows, 1);
        this.run(feeds).then(resolve, reject);
        return;
      }
      this.queue.push({ feeds, rows, resolve, reject });
      this.queuedRows += rows;
      this.schedule();
    });
    return done.finally(() => {
      if (--this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  /** Resolves once no request is queued or running (before a retired model version is released). */
  idle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  private schedule(): void {
    if (this.running) return;
    if (this.scheduled) {
      // A full batch does not wait out the delay.
      if (this.timer && this.queuedRows >= this.options.maxBatch) {
        clearTimeout(this.timer);
        this.timer = undefined;
        setImmediate(() => void this.flush());
      }
      return;
    }
    // An idle model with no delay runs at once: what arrives meanwhile queues behind this run.
    if (this.queuedRows >= this.options.maxBatch || this.options.maxDelayMs <= 0) return void this.flush();
    this.scheduled = true;
    this.timer = setTimeout(() => void this.flush(), this.options.maxDelayMs);
  }

  private async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduled = false;
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch: Pending[] = [];
    let rows = 0;
    while (this.queue.length && (batch.length === 0 || rows + this.queue[0].rows <= this.options.maxBatch)) {
      const p = this.queue.shift()!;
      batch.push(p);
      rows += p.rows;
    }
    this.queuedRows -= rows;
    this.options.onRun?.(rows, batch.length);
    try {
      const out = await this.run(batch.length === 1 ? batch[0].feeds : concatFeeds(batch.map((p) => p.feeds)));
      let offset = 0;
      for (const p of batch) {
        p.resolve(batch.length === 1 ? out : sliceOutputs(out, offset, p.rows));
        offset += p.rows;
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.running = false;
      // What queued behind this run goes next, without waiting.
      if (this.queue.length) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    }
  }
}

/** Feeds of several requests as one: rows stacked; a padded [n, L] string input re-padded to the longest L. */
export function concatFeeds(parts: Record<string, ort.Tensor>[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(parts[0])) {
    const ts = parts.map((p) => p[name]);
    const n = ts.reduce((a, t) => a + t.dims[0], 0);
    if (ts[0].dims.length === 2) {
      const L = Math.max(...ts.map((t) => t.dims[1]));
      const flat: string[] = new Array(n * L).fill("");
      let row = 0;
      for (const t of ts) {
        const l = t.dims[1];
        const d = t.data as string[];
        for (let i = 0; i < t.dims[0]; i++, row++) for (let j = 0; j < l; j++) flat[row * L + j] = d[i * l + j];
      }
      out[name] = new ort.Tensor("string", flat, [n, L]);
    } else if (ts[0].type === "string") {
      out[name] = new ort.Tensor("string", ts.flatMap((t) => t.data as string[]), [n]);
    } else {
      const Ctor = (ts[0].data as Float32Array | BigInt64Array).constructor as Float32ArrayConstructor | BigInt64ArrayConstructor;
      const data = new Ctor(n);
      let at = 0;
      for (const t of ts) {
        data.set(t.data as never, at);
        at += t.dims[0];
      }
      out[name] = new ort.Tensor(ts[0].type as "float32", data as Float32Array, [n]);
    }
  }
  return out;
}

/** Rows [offset, offset + n) of every output. */
export function sliceOutputs(out: Outputs, offset: number, n: number): Outputs {
  const res: Outputs = {};
  for (const [name, t] of Object.entries(out)) {
    const width = t.dims.slice(1).reduce((a, b) => a * b, 1);
    const all = t.data as Float32Array | string[];
    const data = Array.isArray(all) ? all.slice(offset * width, (offset + n) * width) : all.subarray(offset * width, (offset + n) * width);
    res[name] = new ort.Tensor(t.type as "float32", data, [n, ...t.dims.slice(1)]);
  }
  return res;
}
