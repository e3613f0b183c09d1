/**
 * The table of every diagnostic mdrc reports. Codes are stable: tools and CI filters may match on them.
 * MDR1xx syntax, MDR2xx structure (sections, properties, value types), MDR3xx semantics, MDR4xx warnings.
 */
export type Severity = "error" | "warning";

interface CodeInfo {
  readonly code: string;
  readonly severity: Severity;
  /** One line saying what the code means; used by docs and `--format json`. */
  readonly summary: string;
}

const table = {
  "unexpected-character": { code: "MDR101", severity: "error", summary: "A character that cannot start any token." },
  "unterminated-string": { code: "MDR102", severity: "error", summary: "A string literal without its closing quote." },
  "unexpected-token": { code: "MDR103", severity: "error", summary: "A token the grammar does not allow here." },
  "unexpected-end": { code: "MDR104", severity: "error", summary: "The file ends inside a construct." },
  "invalid-json": { code: "MDR105", severity: "error", summary: "A JSON spec that is not well-formed JSON." },
  "invalid-number": { code: "MDR106", severity: "error", summary: "A number literal that is not a finite number." },
  "too-deep": { code: "MDR107", severity: "error", summary: "Blocks or lists nested deeper than any spec needs (64 levels)." },
  "too-large": { code: "MDR108", severity: "error", summary: "A spec file over 1 MiB, or with so many errors that reading stops." },

  "missing-model": { code: "MDR201", severity: "error", summary: "A file with no `model` block." },
  "multiple-models": { code: "MDR202", severity: "error", summary: "More than one `model` block in one file." },
  "unknown-section": { code: "MDR203", severity: "error", summary: "A block whose keyword is not a known section." },
  "unknown-property": { code: "MDR204", severity: "error", summary: "A property the section does not have." },
  "duplicate-property": { code: "MDR205", severity: "error", summary: "A property or single section given twice." },
  "wrong-type": { code: "MDR206", severity: "error", summary: "A value of the wrong type (number, string, list…)." },
  "invalid-value": { code: "MDR207", severity: "error", summary: "A value outside the allowed set of words." },
  "missing-property": { code: "MDR208", severity: "error", summary: "A required property is absent." },
  "out-of-range": { code: "MDR209", severity: "error", summary: "A number outside its allowed range (sizes must be positive)." },
  "missing-name": { code: "MDR210", severity: "error", summary: "A block that needs a name has none, or one that takes none has one." },

  "unknown-reference": { code: "MDR301", severity: "error", summary: "A name that refers to nothing declared." },
  "duplicate-name": { code: "MDR302", severity: "error", summary: "Two declarations with the same name." },
  "empty-domain-list": { code: "MDR303", severity: "error", summary: "A domain with no values." },
  "duplicate-domain-value": { code: "MDR304", severity: "error", summary: "A domain value listed twice." },
  "invalid-k": { code: "MDR305", severity: "error", summary: "A top-k gate whose k is below 1 or above the experts it can choose from." },
  "router-loss-without-router": { code: "MDR306", severity: "error", summary: "Mutual-information or load-balance loss in a model without a router." },
  "negative-weight": { code: "MDR307", severity: "error", summary: "A loss weight below zero." },
  "contradictory-options": { code: "MDR308", severity: "error", summary: "Two options that cannot hold together." },
  "cycle": { code: "MDR309", severity: "error", summary: "Components whose inputs form a cycle." },
  "missing-tower": { code: "MDR310", severity: "error", summary: "A model with no tower, or with more than one." },
  "ambiguous-router": { code: "MDR311", severity: "error", summary: "Router losses with several routers and no `router:` to choose one." },
  "width-mismatch": { code: "MDR312", severity: "error", summary: "Experts mixed by one gate have different output widths." },
  "table-mismatch": { code: "MDR313", severity: "error", summary: "Fields sharing an embedding table disagree on its size." },
  "no-loss": { code: "MDR314", severity: "error", summary: "A loss section whose terms are all zero: there is nothing to train." },
  "model-too-large": { code: "MDR315", severity: "error", summary: "A model whose tensors cannot be built: one tensor over 2³¹ values, or training state larger than this machine's memory." },

  "dense-topk": { code: "MDR401", severity: "warning", summary: "A top-k gate with k equal to its pool size selects every expert." },
  "unused-pool": { code: "MDR402", severity: "warning", summary: "An expert pool that no gate, tower or layer uses." },
  "unused-gate": { code: "MDR403", severity: "warning", summary: "A gate or STAR layer whose output nothing uses." },
  "ineffective-option": { code: "MDR404", severity: "warning", summary: "An option that has no effect where it is set." },
} as const satisfies Record<string, CodeInfo>;

export type DiagnosticName = keyof typeof table;
export const diagnosticCodes: Readonly<Record<DiagnosticName, CodeInfo>> = table;
