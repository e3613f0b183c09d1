import cliProgress from "cli-progress";
import type { Progress } from "../runtime/trainer.js";

/**
 * A progress bar with rows/s, loss and ETA on a terminal; on anything else (CI logs, files) a plain line
 * every few seconds, so logs stay readable.
 */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): { update: (p: Progress) => void; stop: () => void } {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar({
      stream,
      format: "epoch {epoch}/{epochs} [{bar}] {percentage}% | {rps} rows/s | loss {loss} | ETA {eta_formatted}",
      hideCursor: true,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
    let started = false;
    return {
      update: (p) => {
        const payload = { epoch: p.epoch, epochs: p.epochs, rps: Math.round(p.rowsPerSecond).toLocaleString("en-US"), loss: p.loss.toFixed(4) };
        if (!started) {
          bar.start(p.rowsTotal, Math.min(p.rowsDone, p.rowsTotal), payload);
          started = true;
        } else {
          bar.update(Math.min(p.rowsDone, p.rowsTotal), payload);
        }
      },
      stop: () => started && bar.stop(),
    };
  }
  // The first line comes 5 s into the run: a rate taken over the first batch alone (the shuffle buffer's
  // fill included) would promise an ETA many times too long.
  let last: number | undefined;
  return {
    update: (p) => {
      const now = Date.now();
      last ??= now;
      if (now - last < 5000) return;
      last = now;
      const eta = Math.max(0, p.rowsTotal - p.rowsDone) / Math.max(p.rowsPerSecond, 1);
      stream.write(`epoch ${p.epoch}/${p.epochs}: ${Math.min(p.rowsDone, p.rowsTotal)}/${p.rowsTotal} rows, ${Math.round(p.rowsPerSecond)} rows/s, loss ${p.loss.toFixed(4)}, ETA ${Math.round(eta)} s\n`);
    },
    stop: () => {},
  };
}
