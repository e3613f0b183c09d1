import { Worker, type MessagePort } from "node:worker_threads";

// A worker that produces a stream of messages for the main thread, at most a few ahead: the worker sends
// only while it holds credit, and the reader gives one back for each message it takes.

/** The worker's end: resolves once the message is sent, waiting first while `ahead` messages are unread. */
export function creditedSender<M>(port: MessagePort, ahead: number): (message: M, transfer?: ArrayBuffer[]) => Promise<void> {
  let credit = ahead;
  let waiting: (() => void) | undefined;
  port.on("message", () => {
    credit++;
    waiting?.();
  });
  return async (message, transfer) => {
    while (credit === 0) await new Promise<void>((r) => (waiting = r));
    credit--;
    port.postMessage(message, transfer);
  };
}

/**
 * The main thread's end: the worker's messages, in order, until the caller stops reading or `signal`
 * aborts (the worker is then stopped; an abort ends the messages at once, even mid-wait). The worker is
 * referenced only while the caller waits for it, so a reader left suspended does not keep the process alive.
 */
export async function* workerMessages<M>(url: URL, workerData: unknown, signal?: AbortSignal): AsyncGenerator<M> {
  if (signal?.aborted) return;
  const worker = new Worker(url, { workerData });
  const inbox: M[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    wake?.();
  };
  signal?.addEventListener("abort", stop, { once: true });
  worker.on("message", (m: M) => {
    inbox.push(m);
    wake?.();
  });
  worker.on("error", (e) => {
    failure = e;
    wake?.();
  });
  try {
    for (;;) {
      worker.ref();
      while (inbox.length === 0 && !failure && !stopped) await new Promise<void>((r) => (wake = r));
      worker.unref();
      if (stopped) return;
      if (failure) throw failure;
      worker.postMessage("more");
      yield inbox.shift()!;
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    await worker.terminate();
  }
}
