import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import type { GateStatistics } from "../../src/runtime/router-stats.js";
import type { EvaluationRecord } from "../../src/runtime/train-options.js";
import { assertNoStack, mdr } from "../helpers/cli.js";
import { syntheticCesaa, syntheticSpec, writeSynthetic } from "../helpers/synthetic.js";

// Router statistics through train, eval, predict and the report, and the report in a real browser.

const tmp = mkdtempSync(join(tmpdir(), "mdr-report-"));
const specPath = join(tmp, "syn.mdr");
const trainFile = join(tmp, "train.csv");
const validFile = join(tmp, "valid.csv");
const runs = [join(tmp, "run-a"), join(tmp, "run-b")];

before(() => {
  writeFileSync(specPath, syntheticSpec(syntheticCesaa));
  writeSynthetic(trainFile, 4_000, 1);
  writeSynthetic(validFile, 1_000, 2);
  runs.forEach((out, i) => {
    const r = mdr("train", specPath, "--data", trainFile, "--valid", validFile, "-o", out, "--epochs", "2", "--seed", String(i + 1), "--threads", "1");
    assert.equal(r.code, 0, r.err);
  });
});

const records = (run: string) => readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as EvaluationRecord);

function sameStatistics(a: GateStatistics, b: GateStatistics, what: string): void {
  for (const key of ["mutual_information", "domain_entropy", "load_balance"] as const) assert.ok(Math.abs(a[key]! - b[key]!) < 1e-6, `${what} ${key}: ${a[key]} vs ${b[key]}`);
  a.usage.forEach((row, d) => row.forEach((v, e) => assert.ok(Math.abs(v - b.usage[d][e]) < 1e-6, `${what} usage[${d}][${e}]`)));
}

test("training records each loss term and every gate's statistics per evaluation, and prints the usage table", () => {
  const r = mdr("train", specPath, "--data", trainFile, "--valid", validFile, "-o", join(tmp, "run-c"), "--epochs", "1", "--threads", "1");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /gate router: share of top-k slots per domain, %\ndomain +e0 +e1 +e2 +e3\nnews /);
  assert.match(r.out, /mutual information \d\.\d{3} of 1\.09\d nats; load balance \d\.\d{3}/);
  const [first] = records(join(tmp, "run-c"));
  assert.deepEqual(Object.keys(first.loss_terms!).sort(), ["bce", "load_balance", "mutual_information"]);
  const s = first.routers!.router;
  assert.equal(s.usage.length, 3);
  s.usage.forEach((row) => assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-9, "each domain's usage sums to 1"));
  assert.equal(s.choices, "experts");
  assert.ok(s.mutual_information !== null && s.mutual_information >= 0 && s.mutual_information <= s.domain_entropy + 1e-12);
  const log = readFileSync(join(tmp, "run-c", "train_log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(log.length >= 10, "the training curve has points");
  assert.ok(log.every((p) => Number.isFinite(p.loss) && "mutual_information" in p.terms));
});

test("mdr eval and the report give the same router statistics as training recorded for the kept model", () => {
  const run = runs[0];
  const e = mdr("eval", run, "--data", validFile, "--json");
  assert.equal(e.code, 0, e.err);
  const evaluated = JSON.parse(e.out) as EvaluationRecord;
  const epochs = records(run).filter((r) => r.at === "epoch");
  const kept = epochs.reduce((best, r) => (r.overall.auc > best.overall.auc ? r : best)); // the spec keeps the best AUC
  sameStatistics(evaluated.routers!.router, kept.routers!.router, "eval vs training");
  const text = mdr("eval", run, "--data", validFile);
  assert.match(text.out, /expert usage by domain:\ngate router/);
  const rep = mdr("report", run, "-o", join(tmp, "one.html"));
  assert.equal(rep.code, 0, rep.err);
  const html = readFileSync(join(tmp, "one.html"), "utf8");
  const embedded = JSON.parse(html.match(/<script type="application\/json" id="runs">(.*?)<\/script>/s)![1]) as { best: EvaluationRecord }[];
  sameStatistics(embedded[0].best.routers!.router, kept.routers!.router, "report vs training");
  // No resource the page would fetch (the browser test also watches for requests; a CSP forbids them).
  assert.ok(!/<script[^>]+src=|<link[^>]+href=|url\(\s*['"]?https?:|@import/.test(html), "no external resources");
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
});

test("mdr predict --debug-outputs writes each gate's probabilities and selected experts", () => {
  const out = join(tmp, "pred.csv");
  const r = mdr("predict", runs[0], "--data", validFile, "-o", out, "--debug-outputs");
  assert.equal(r.code, 0, r.err);
  const [head, ...lines] = readFileSync(out, "utf8").trim().split("\n");
  assert.equal(head, "probability,router.p0,router.p1,router.p2,router.p3,router.choice1,router.choice2");
  assert.equal(lines.length, 1000);
  for (const line of lines.slice(0, 50)) {
    const v = line.split(",").map(Number);
    const p = v.slice(1, 5);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5, "router probabilities sum to 1");
    const [c1, c2] = v.slice(5);
    assert.notEqual(c1, c2);
    assert.ok(p[c1] >= Math.max(...p.filter((_, j) => j !== c1 && j !== c2)) - 1e-6, "the selected experts have the top scores (noise is off at inference)");
  }
});

test("mdr report refuses what is not a run or an edited record, with one line and no stack, and leaves damaged log lines out", () => {
  const r = mdr("report", tmp);
  assert.equal(r.code, 2);
  assert.match(r.err, /is not a training run \(no run\.json\)/);
  assertNoStack(r.err);
  assert.equal(mdr("report", runs[0], "-o", tmp).code, 2);
  // A damaged record: an edited spec is refused in one line; damaged log lines are left out of the page.
  const damaged = join(tmp, "damaged");
  cpSync(runs[0], damaged, { recursive: true });
  const record = JSON.parse(readFileSync(join(damaged, "run.json"), "utf8"));
  writeFileSync(join(damaged, "run.json"), JSON.stringify({ ...record, spec: { ...record.spec, train: undefined, towers: "head" } }));
  const edited = mdr("report", damaged);
  assert.equal(edited.code, 2);
  assert.match(edited.err, /run\.json: the recorded spec is not valid/);
  assertNoStack(edited.err);
  writeFileSync(join(damaged, "run.json"), JSON.stringify(record));
  const lines = readFileSync(join(damaged, "metrics.jsonl"), "utf8");
  writeFileSync(join(damaged, "metrics.jsonl"), lines + '{"step": 99, "epoch": 9, "overall": {"auc": "high"}}\n{"step": 100, "epoch": 9, "overall": {"auc": 1, "logloss": 0, "rows": 1}, "domains": {}, "routers": {"router": {"usage": [[1]]}}}\nnot json\n');
  const ok = mdr("report", damaged, "-o", join(tmp, "damaged.html"));
  assert.equal(ok.code, 0, ok.err);
  const embedded = JSON.parse(readFileSync(join(tmp, "damaged.html"), "utf8").match(/<script type="application\/json" id="runs">(.*?)<\/script>/s)![1]) as { evaluations: EvaluationRecord[] }[];
  assert.deepEqual(embedded[0].evaluations.map((e) => e.step), records(runs[0]).map((e) => e.step), "only well-formed evaluations are drawn");
});

const chromium = process.env.CHROMIUM_PATH ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

test("the report renders in a real browser: no console error or failed request, every chart drew, the heatmap is domains × experts",
  { skip: chromium ? false : "Chromium is not installed (Debian package `chromium`, or set CHROMIUM_PATH)" }, async () => {
    const page = join(tmp, "compare.html");
    const r = mdr("report", ...runs, "-o", page);
    assert.equal(r.code, 0, r.err);
    const { chromium: driver } = await import("playwright-core");
    const browser = await driver.launch({ executablePath: chromium, args: ["--no-sandbox"] });
    try {
      const tab = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      const problems: string[] = [];
      tab.on("console", (m) => m.type() === "error" && problems.push(m.text()));
      tab.on("pageerror", (e) => problems.push(String(e)));
      tab.on("requestfailed", (q) => problems.push(`request failed: ${q.url()}`));
      tab.on("request", (q) => !q.url().startsWith("file:") && problems.push(`network request: ${q.url()}`));
      await tab.goto(`file://${page}`);
      await tab.waitForFunction(() => (window as unknown as { mdrReport?: { ready: boolean } }).mdrReport?.ready === true, undefined, { timeout: 20_000 });
      const charts = await tab.evaluate(() => (window as unknown as { mdrReport: { charts: { title: string; kind: string; points: number; canvas: HTMLCanvasElement; chart: { data: { datasets: { data: unknown[] }[] }; getDatasetMeta(i: number): { data: unknown[] } } }[] } }).mdrReport.charts.map((c) => {
        const ctx = c.canvas.getContext("2d")!;
        const pixels = ctx.getImageData(0, 0, c.canvas.width, c.canvas.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
        return { title: c.title, kind: c.kind, points: c.points, inked, cells: c.chart.getDatasetMeta(0).data.length, width: c.canvas.width };
      }));
      assert.deepEqual(problems, []);
      const heatmaps = charts.filter((c) => c.kind === "heatmap");
      assert.equal(heatmaps.length, 2, "one heatmap per run's gate");
      for (const h of heatmaps) assert.equal(h.cells, 3 * 4, `${h.title}: 3 domains × 4 experts`);
      assert.ok(charts.length >= 9, `${charts.length} charts`);
      for (const c of charts) {
        assert.ok(c.points > 0, `${c.title} has data`);
        assert.ok(c.width > 0 && c.inked > 500, `${c.title} drew (${c.inked} pixels)`);
      }
      const shot = join(tmp, "report.png");
      await tab.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 10_000, "screenshot saved");
      process.stdout.write(`# screenshot: ${shot}\n`);
    } finally {
      await browser.close();
    }
  });
