import { readFileSync } from "node:fs";
import { createSourceFile } from "../../src/diagnostics/source.js";
import { compileSpecSource, type CompiledSpec } from "../../src/compiler/frontend.js";

export const root = new URL("../../../", import.meta.url).pathname;
export const exampleNames = ["shared_bottom", "mmoe", "ple", "star", "cesaa"];
export const examplePath = (name: string) => `${root}examples/movielens/${name}.mdr`;
export const readExample = (name: string) => readFileSync(examplePath(name), "utf8");

export function compileText(text: string, path = "test.mdr"): CompiledSpec {
  return compileSpecSource(createSourceFile(path, text));
}

export function codes(result: CompiledSpec): string[] {
  return result.diagnostics.map((d) => d.code);
}

/** A small valid spec whose architecture part is replaced by `arch`. */
export function withArchitecture(arch: string, extra = ""): string {
  return `model t {
  domain d { values: [a, b, c] }
  features {
    categorical user { dim: 8 }
    numeric age {}
  }
${arch}
${extra}
}
`;
}

export const cesaaArch = `
  experts shared { scope: shared, count: 2, layers: [16] }
  experts specific { scope: routed, count: 4, layers: [16] }
  gate router { per: all, pools: [specific], type: topk, k: 2, inputs: [features, domain], always_on: [shared] }
  tower head { input: router, layers: [8] }
`;

/** A domain with a fallback and every kind of field: shared, hashed, range and multi-valued tables, every numeric transform and missing policy. */
export const everyFieldKind = `
  domain d { column: "dom", values: [a, b, c], unknown: fallback, fallback: b }
  features {
    categorical item { dim: 4 }
    categorical clicked { table: item }
    categorical tag { hash_buckets: 7, dim: 3 }
    categorical slot { range: [1, 5], dim: 2 }
    multi_categorical bag { dim: 3, pooling: sum, separator: ";" }
    numeric price { transform: log1p }
    numeric raw { transform: none }
    numeric age { transform: bucketize, boundaries: [0, 5, 10], dim: 2 }
    numeric fee { missing: constant, fill: 3 }
    numeric visits { transform: log1p, missing: zero }
  }
`;

/** A small CESAA-like model over every kind of field (serving and export tests). */
export function everyFieldModel(name: string): string {
  return `
model ${name} {
${everyFieldKind}  experts base { count: 2, layers: [6] }
  experts routed { scope: routed, count: 4, layers: [6] }
  gate router { per: all, pools: [routed], type: topk, k: 2, always_on: [base] }
  tower { input: router, layers: [4] }
}
`;
}
