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
