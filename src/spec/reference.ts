import { retrievalSchema, specSchema } from "./schema.js";

interface PropSchema {
  type?: string;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  items?: PropSchema;
  $ref?: string;
  const?: unknown;
  exclusiveMinimum?: number;
  minimum?: number;
}
interface ObjectSchema {
  properties: Record<string, PropSchema>;
  required?: string[];
  oneOf?: (ObjectSchema & { title: string })[];
}

/** How each section is written in .mdr text, and where its schema lives. */
const sections: [title: string, syntax: string, pointer: string[], schema?: "retrieval"][] = [
  ["Model properties", "`label: \"column\"` and `task: …` directly inside `model <name> { … }`", []],
  ["domain", "`domain <name> { … }` (exactly one)", ["properties", "domain"]],
  ["features", "`features { <kind> <name> { … } … }` with kind categorical, multi_categorical or numeric", ["properties", "features", "items"]],
  ["experts", "`experts <name> { … }` (any number)", ["properties", "experts", "items"]],
  ["gate", "`gate <name> { … }` (any number)", ["properties", "gates", "items"]],
  ["star", "`star <name> { … }` (any number)", ["properties", "stars", "items"]],
  ["tower", "`tower [name] { … }` (exactly one)", ["properties", "towers", "items"]],
  ["loss", "`loss { … }`", ["properties", "loss"]],
  ["train", "`train { … }`; `early_stopping { metric: …, patience: … }` nests inside", ["properties", "train"]],
  ["train.early_stopping", "`early_stopping { … }` inside `train`", ["properties", "train", "properties", "early_stopping"]],
  ["query and item (retrieval)", "`query { … }` and `item { … }` in a `task: retrieval` model (which has no `label`): each holds `features`, `experts`, `gate`, `star` and `tower` as above (the tower's last layer is the embedding); `item` also takes", ["properties", "item"], "retrieval"],
  ["embedding (retrieval)", "`embedding { … }` in a retrieval model", ["properties", "embedding"], "retrieval"],
  ["loss (retrieval)", "`loss { … }` in a retrieval model (instead of the ranking `loss`)", ["properties", "loss"], "retrieval"],
];

/** The property tables of grammar/README.md, generated from the schema so the docs cannot drift. */
export function referenceMarkdown(): string {
  const out: string[] = [];
  for (const [title, syntax, pointer, which] of sections) {
    let node = (which === "retrieval" ? retrievalSchema : specSchema) as unknown as Record<string, unknown>;
    for (const key of pointer) node = node[key] as Record<string, unknown>;
    const schema = node as unknown as ObjectSchema;
    out.push(`### ${title}`, "", syntax, "");
    if (schema.oneOf) {
      for (const branch of schema.oneOf) {
        out.push(`**${branch.title}**`, "", ...table(branch, ["kind", "name"]), "");
      }
    } else {
      const props = pointer.length === 0
        ? { properties: { label: schema.properties.label, task: schema.properties.task }, required: [] }
        : schema;
      out.push(...table(props as ObjectSchema, ["name", "early_stopping", "features", "experts", "gates", "stars", "towers"]), "");
    }
  }
  return out.join("\n");
}

function table(schema: ObjectSchema, skip: string[]): string[] {
  const rows = ["| property | value | default | meaning |", "|---|---|---|---|"];
  for (const [key, p] of Object.entries(schema.properties)) {
    if (skip.includes(key)) continue;
    const required = schema.required?.includes(key);
    rows.push(`| \`${key}\` | ${valueType(p)} | ${required ? "required" : p.default === undefined ? "—" : `\`${formatDefault(p.default)}\``} | ${(p.description ?? "").replace(/\|/g, "\\|")} |`);
  }
  return rows;
}

function valueType(p: PropSchema): string {
  if (p.enum) return p.enum.map((v) => `\`${v}\``).join(" \\| ");
  if (p.$ref) return "name";
  if (p.type === "array") return `list of ${p.items?.enum ? p.items.enum.map((v) => `\`${v}\``).join("/") : p.items?.$ref ? "names" : `${p.items?.type ?? "value"}s`}`;
  if (p.type === "integer") return p.exclusiveMinimum === 0 ? "positive integer" : "integer";
  if (p.type === "object") return "block";
  return p.type ?? "value";
}

function formatDefault(v: unknown): string {
  if (Array.isArray(v)) return `[${v.join(", ")}]`;
  if (typeof v === "object" && v !== null) return "{}";
  return String(v);
}
