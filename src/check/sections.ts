import { didYouMean } from "../diagnostics/suggest.js";
import { joinPath } from "../spec/source-map.js";
import type { CategoricalFeature, MultiCategoricalFeature, NumericFeature, Spec } from "../spec/types.js";
import type { Report, WasSet } from "./context.js";

// Rules for the sections that hold no components: domain, features, loss, train.

export function checkDomain(spec: Spec, report: Report, wasSet: WasSet): void {
  const d = spec.domain;
  if (d.values.length === 0) {
    report("empty-domain-list", "/domain/values", { message: "The domain lists no values.", hint: "List the domain values in id order: `values: [search, feed]`." });
  }
  const seen = new Set<string>();
  d.values.forEach((v, i) => {
    if (seen.has(v)) report("duplicate-domain-value", `/domain/values/${i}`, { message: `The domain value '${v}' is listed twice.`, hint: "List each value once." });
    seen.add(v);
  });
  for (const [v, w] of Object.entries(d.weights)) {
    const path = joinPath("/domain/weights", v);
    if (!seen.has(v)) {
      report("unknown-reference", path, { message: `'${v}' is not a listed domain value.`, hint: didYouMean(v, d.values) ?? `Values: ${d.values.join(", ")}.` }, "key");
    }
    if (w < 0) report("negative-weight", path, { message: `The loss weight of domain '${v}' is negative (${w}).`, hint: "Use 0 to ignore a domain's loss." });
  }
  if (d.unknown === "fallback" && d.fallback === undefined) {
    report("missing-property", "/domain/unknown", { message: "`unknown: fallback` needs a `fallback` value.", hint: "Add `fallback: <one of the values>`." });
  } else if (d.unknown !== "fallback" && wasSet("/domain/fallback")) {
    report("contradictory-options", "/domain/fallback", {
      message: `'fallback' is set but unknown values are handled by '${d.unknown}'.`,
      hint: "Set `unknown: fallback`, or remove `fallback`.",
    }, "key");
  } else if (d.fallback !== undefined && !seen.has(d.fallback)) {
    report("unknown-reference", "/domain/fallback", { message: `The fallback '${d.fallback}' is not a listed domain value.`, hint: didYouMean(d.fallback, d.values) ?? `Values: ${d.values.join(", ")}.` });
  }
}

export function checkFeatures(spec: Spec, report: Report, wasSet: WasSet): void {
  const byName = new Map<string, number>();
  spec.features.forEach((f, i) => {
    const path = `/features/${i}`;
    if (byName.has(f.name)) report("duplicate-name", `${path}/name`, { message: `There is already a feature named '${f.name}'.`, hint: "Give each feature its own name." });
    else byName.set(f.name, i);
    if (f.column === spec.label) {
      report("contradictory-options", wasSet(`${path}/column`) ? `${path}/column` : `${path}/name`, {
        message: `Feature '${f.name}' reads the label column '${spec.label}': the model would see the answer.`,
        hint: "Read another column, or set the model's `label:` to the right column.",
      });
    }
    if (f.kind === "numeric") checkNumericField(f, path, report, wasSet);
    else checkVocabulary(f, path, report, wasSet);
  });
  checkSharedTables(spec, byName, report, wasSet);
}

function checkNumericField(f: NumericFeature, path: string, report: Report, wasSet: WasSet): void {
  const bucketize = f.transform === "bucketize";
  if (bucketize && !f.boundaries) {
    report("missing-property", `${path}/transform`, { message: "`transform: bucketize` needs `boundaries`.", hint: "Add `boundaries: [b1, b2, …]`, increasing." });
  }
  for (const key of ["boundaries", "dim"] as const) {
    if (!bucketize && wasSet(`${path}/${key}`)) {
      report("contradictory-options", `${path}/${key}`, { message: `'${key}' only applies to \`transform: bucketize\`, not '${f.transform}'.`, hint: `Remove '${key}' or set \`transform: bucketize\`.` }, "key");
    }
  }
  if (f.boundaries?.some((b, j) => j > 0 && b <= f.boundaries![j - 1])) {
    report("out-of-range", `${path}/boundaries`, { message: "Bucket boundaries must be strictly increasing.", hint: "Sort them and remove repeats." });
  }
  if (f.missing === "constant" && f.fill === undefined) {
    report("missing-property", `${path}/missing`, { message: "`missing: constant` needs a `fill` value.", hint: "Add `fill: <number>`." });
  } else if (f.missing !== "constant" && wasSet(`${path}/fill`)) {
    report("contradictory-options", `${path}/fill`, { message: `'fill' is set but missing values are handled by '${f.missing}'.`, hint: "Set `missing: constant`, or remove `fill`." }, "key");
  }
  const marker = f.missing_values.find((v) => v.trim() !== "" && !Number.isNaN(Number(v)));
  if (marker !== undefined) {
    report("invalid-value", `${path}/missing_values/${f.missing_values.indexOf(marker)}`, {
      message: `'${marker}' is a number, so it cannot also mean missing.`,
      hint: "List only non-numeric markers such as \"?\" or \"N/A\"; to treat a number as missing, clean the data.",
    });
  }
}

function checkVocabulary(f: CategoricalFeature | MultiCategoricalFeature, path: string, report: Report, wasSet: WasSet): void {
  const vocabKeys = ["hash_buckets", "range", "table"].filter((k) => wasSet(`${path}/${k}`));
  if (vocabKeys.length > 1 || (vocabKeys.length === 1 && wasSet(`${path}/min_count`))) {
    const keys = wasSet(`${path}/min_count`) ? [...vocabKeys, "min_count"] : vocabKeys;
    report("contradictory-options", `${path}/${keys[1]}`, {
      message: `'${keys[0]}' and '${keys[1]}' are two different vocabularies.`,
      hint: "Choose one: a learned vocabulary (min_count), hash_buckets, range, or a shared table.",
    }, "key");
  }
  if (f.range && f.range[0] > f.range[1]) {
    report("out-of-range", `${path}/range`, { message: `The range [${f.range[0]}, ${f.range[1]}] is empty.`, hint: "Write `range: [min, max]` with min ≤ max." });
  }
}

/** Shared tables, once all names are known: the owner exists, owns its table, and has the sharer's width. */
function checkSharedTables(spec: Spec, byName: Map<string, number>, report: Report, wasSet: WasSet): void {
  spec.features.forEach((f, i) => {
    if (f.kind === "numeric" || f.table === undefined) return;
    const path = `/features/${i}/table`;
    const j = byName.get(f.table);
    const owner = j === undefined ? undefined : spec.features[j];
    if (!owner || owner.kind === "numeric" || owner === f) {
      const candidates = spec.features.filter((g) => g.kind !== "numeric" && g !== f).map((g) => g.name);
      report("unknown-reference", path, {
        message: owner === f ? "A field cannot share its own table." : `There is no categorical feature '${f.table}' whose table could be shared.`,
        hint: didYouMean(f.table, candidates) ?? `Categorical features: ${candidates.join(", ") || "none"}.`,
      });
      return;
    }
    if (owner.table !== undefined) {
      report("table-mismatch", path, { message: `'${owner.name}' itself shares '${owner.table}''s table.`, hint: `Write \`table: ${owner.table}\`.` });
      return;
    }
    if (wasSet(`/features/${i}/dim`) && f.dim !== owner.dim) {
      report("table-mismatch", `/features/${i}/dim`, {
        message: `'${f.name}' has dim ${f.dim} but shares the table of '${owner.name}', whose dim is ${owner.dim}.`,
        hint: "Remove `dim`: a shared table has its owner's width.",
      });
    }
  });
  // Multi-valued cells are text split inside the graph; integer ranges are read as numbers.
  spec.features.forEach((f, i) => {
    if (f.kind !== "multi_categorical") return;
    const owner = f.table === undefined ? f : spec.features[byName.get(f.table) ?? -1];
    if (owner && owner.kind !== "numeric" && owner.range) {
      report("contradictory-options", f.table === undefined ? `/features/${i}/range` : `/features/${i}/table`, {
        message: `'${f.name}' is multi-valued, and integer ranges apply to single-valued fields only.`,
        hint: "Use a learned vocabulary (min_count) or hash_buckets for a multi-valued field.",
      }, "key");
    }
  });
}

/** `main` is the model's own loss term: `bce` for ranking, `softmax` for retrieval (held in `loss.bce` of a tower's view). */
export function checkLoss(spec: Spec, report: Report, wasSet: WasSet, main: "bce" | "softmax" = "bce"): void {
  const loss = spec.loss;
  const path = (key: string) => `/loss/${key === "bce" ? main : key}`;
  for (const key of ["bce", "mutual_information", "load_balance", "l2_embedding"] as const) {
    const name = key === "bce" ? main : key;
    if (loss[key] < 0) report("negative-weight", path(key), { message: `The weight of '${name}' is negative (${loss[key]}).`, hint: "Loss weights are ≥ 0; use 0 to turn a term off." });
  }
  if (main === "softmax" && loss.bce === 0) {
    report("no-loss", wasSet(path("bce")) ? path("bce") : "/loss", {
      message: "The softmax weight is 0, so the item tower would never learn.",
      hint: "Give `softmax` a positive weight (1.0 is the usual choice).",
    });
  } else if (!(loss.bce > 0) && !(loss.mutual_information > 0) && !(loss.load_balance > 0)) {
    report("no-loss", wasSet(path("bce")) ? path("bce") : "/loss", {
      message: "Every training loss term has weight 0, so there is nothing to train.",
      hint: `Give \`${main}\` a positive weight (1.0 is the usual choice).`,
    });
  }
  const routerLoss = (["mutual_information", "load_balance"] as const).filter((k) => loss[k] > 0);
  const routers = spec.gates.filter((g) => g.per === "all");
  if (wasSet("/loss/router")) {
    const g = spec.gates.find((x) => x.name === loss.router);
    if (!g) {
      report("unknown-reference", "/loss/router", { message: `There is no ${main === "softmax" ? "query-tower " : ""}gate named '${loss.router}'.`, hint: didYouMean(loss.router!, spec.gates.map((x) => x.name)) ?? "Name a gate with `per: all`." });
    } else if (g.per !== "all") {
      report("contradictory-options", "/loss/router", { message: `'${g.name}' is a per-domain gate, not a router.`, hint: "Router losses need a gate with `per: all`." });
    }
    if (routerLoss.length === 0) report("ineffective-option", "/loss/router", { message: "'router' is set but no router loss has a positive weight.", hint: "Set `mutual_information` or `load_balance`, or remove it." }, "key");
    return;
  }
  if (routerLoss.length === 0) return;
  if (routers.length === 0) {
    report("router-loss-without-router", `/loss/${routerLoss[0]}`, {
      message: `'${routerLoss[0]}' needs a router, and this ${main === "softmax" ? "model's query tower" : "model"} has none.`,
      hint: "Add a gate with `per: all` (one router for all rows), or set this weight to 0.",
    }, "key");
  } else if (routers.length > 1) {
    report("ambiguous-router", `/loss/${routerLoss[0]}`, {
      message: `'${routerLoss[0]}' could apply to any of ${routers.map((g) => `'${g.name}'`).join(", ")}.`,
      hint: `Add \`router: ${routers[0].name}\` to the loss section.`,
    }, "key");
  }
}

export function checkTrain(spec: Spec, report: Report, wasSet: WasSet): void {
  const t = spec.train;
  const only: Record<string, string> = { momentum: "sgd", beta1: "adam", beta2: "adam" };
  for (const [key, optimizer] of Object.entries(only)) {
    if (wasSet(`/train/${key}`) && t.optimizer !== optimizer) {
      report("contradictory-options", `/train/${key}`, { message: `'${key}' belongs to ${optimizer}, but the optimizer is ${t.optimizer}.`, hint: `Remove '${key}', or use \`optimizer: ${optimizer}\`.` }, "key");
    }
  }
  if (wasSet("/train/eps") && t.optimizer === "sgd") {
    report("contradictory-options", "/train/eps", { message: "'eps' has no meaning for sgd.", hint: "Remove it, or use adam or adagrad." }, "key");
  }
}

