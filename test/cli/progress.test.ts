import assert from "node:assert/strict";
import { test } from "node:test";
import { progressReporter } from "../../src/cli/progress.js";

test("the plain progress line counts rows of this epoch, never past its total, with no negative ETA", () => {
  let text = "";
  const stream = { isTTY: false, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  const bar = progressReporter(stream);
  bar.update({ epoch: 1, epochs: 3, rowsDone: 1024, rowsTotal: 300, rowsPerSecond: 5000, loss: 0.69 });
  assert.equal(text, "epoch 1/3: 300/300 rows, 5000 rows/s, loss 0.6900, ETA 0 s\n");
});
