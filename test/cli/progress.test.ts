import assert from "node:assert/strict";
import { test } from "node:test";
import { progressReporter } from "../../src/cli/progress.js";

test("the plain progress line comes 5 s into the run, counts rows of this epoch, never past its total, with no negative ETA", (t) => {
  t.mock.timers.enable({ apis: ["Date"], now: 1_000_000 });
  let text = "";
  const stream = { isTTY: false, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  const lines = () => text.split("\n").length - 1;
  const bar = progressReporter(stream);
  const p = { epoch: 1, epochs: 3, rowsDone: 1024, rowsTotal: 300, rowsPerSecond: 5000, loss: 0.69 };
  bar.update({ ...p, rowsPerSecond: 20 }); // the first batch: its rate includes filling the shuffle buffer
  t.mock.timers.tick(4999);
  bar.update(p);
  assert.equal(text, "");
  t.mock.timers.tick(1);
  bar.update(p);
  assert.equal(text, "epoch 1/3: 300/300 rows, 5000 rows/s, loss 0.6900, ETA 0 s\n");
  t.mock.timers.tick(1000);
  bar.update(p);
  assert.equal(lines(), 1, "then one line every 5 s");
});
