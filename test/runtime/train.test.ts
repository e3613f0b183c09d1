import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { auc, evaluate } from "../../src/runtime/metrics.js";
import { train } from "../../src/runtime/trainer.js";
import { compileText } from "../helpers/specs.js";
import { syntheticCesaa, syntheticSpec, writeSynthetic } from "../helpers/synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "mdr-train-"));
const trainFile = join(dir, "train.csv");
const validFile = join(dir, "valid.csv");
writeSynthetic(trainFile, 40_000, 1);
const valid = writeSynthetic(validFile, 8_000, 2);

test("CESAA learns a synthetic multi-domain problem to near the AUC its generator allows", async () => {
  const spec = compileText(syntheticSpec(syntheticCesaa)).spec!;
  const result = await train({ spec, train: trainFile, valid: validFile, out: join(dir, "cesaa") });
  const best = result.best!;
  const ceiling = evaluate(valid.probabilities, valid.labels, valid.domains, ["news", "video", "shop"]);
  // The model must come close to the generator: overall and in every domain.
  assert.ok(best.overall.auc > ceiling.overall.auc - 0.03, `overall AUC ${best.overall.auc} vs generator ${ceiling.overall.auc}`);
  for (const d of ["news", "video", "shop"]) {
    assert.ok(best.domains[d].auc > ceiling.domains[d].auc - 0.05, `${d}: AUC ${best.domains[d].auc} vs generator ${ceiling.domains[d].auc}`);
  }
  // The loss falls towards its floor (the generator's own logloss).
  const first = result.history[0].train_loss;
  const last = result.history[result.history.length - 1].train_loss;
  assert.ok(last < first, `train loss falls (${first} → ${last})`);
  assert.ok(best.overall.logloss < ceiling.overall.logloss + 0.05, `valid logloss ${best.overall.logloss} vs floor ${ceiling.overall.logloss}`);
});

test("AUC: ties share ranks, and a perfect ranking is 1", () => {
  assert.equal(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  assert.equal(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  assert.equal(auc([1, 2, 3], [0, 1, 1]), 1);
  assert.ok(Number.isNaN(auc([1, 2], [1, 1])));
});
