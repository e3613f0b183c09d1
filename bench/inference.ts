import { costReport } from "../src/plan/cost.js";
import { resolve } from "../src/plan/resolve.js";
import type { DispatchMode } from "../src/graph/dispatch.js";
import { benchInference as measureModel } from "../src/runtime/benchmark.js";
import type { Spec } from "../src/spec/types.js";
import { chainRowsPerSecond, gemmChainModel } from "./feeds.js";
import { loadSpec, root } from "./util.js";

export interface InferenceRow extends Record<string, string | number> {
  model: string;
  dispatch: string;
  threads: number;
  batch: number;
  rows_per_s: number;
  latency_us: number;
}

/** Rows/s of a compiled model at a batch size and thread count. */
export async function measure(spec: Spec, dispatch: DispatchMode | undefined, batch: number, threads: number): Promise<InferenceRow> {
  const r = await measureModel(spec, batch, threads, { dispatch, seconds: batch === 1 ? 0.4 : 0.8 });
  return { model: spec.model, dispatch: dispatch ?? "spec", threads, batch, rows_per_s: r.rows_per_s, latency_us: Math.round(r.ms * 1000) };
}

export async function benchInference(): Promise<{ rows: InferenceRow[]; summary: Record<string, number> }> {
  const rows: InferenceRow[] = [];
  const examples = ["shared_bottom", "mmoe", "ple", "star", "cesaa"].map((n) => loadSpec(`${root}examples/movielens/${n}.mdr`));
  const small = loadSpec(`${root}bench/specs/cesaa_small.mdr`);
  const wide = loadSpec(`${root}bench/specs/cesaa_wide.mdr`);
  const log = (r: InferenceRow) => {
    rows.push(r);
    console.log(`  ${r.model.padEnd(24)} ${r.dispatch.padEnd(6)} threads ${r.threads} batch ${String(r.batch).padStart(5)}: ${r.rows_per_s.toLocaleString("en-US").padStart(10)} rows/s, ${r.latency_us.toLocaleString("en-US")} µs/run`);
    return r;
  };
  for (const threads of [1, 2]) {
    for (const spec of [...examples, small, wide]) {
      const modes: (DispatchMode | undefined)[] = spec.gates.some((g) => g.type === "topk") ? ["sparse", "dense"] : [undefined];
      for (const mode of modes) for (const batch of [1, 4096]) log(await measure(spec, mode, batch, threads));
    }
  }
  const find = (model: string, dispatch: string, threads: number, batch: number) =>
    rows.find((r) => r.model === model && r.dispatch === dispatch && r.threads === threads && r.batch === batch)!;
  // The machine baseline: a compute-bound chain of square Gemms of the same multiply-adds per row.
  const macs = costReport(resolve(small)).domains[0].activatedMacs;
  const chain = gemmChainModel(macs);
  const chainRowsPerS = await chainRowsPerSecond(chain, 1, 0.8);
  const gflops = (rowsPerS: number) => round2((2 * macs * rowsPerS) / 1e9);
  const summary = {
    cesaa_small_sparse_rows_per_s_b4096_t1: find("cesaa_small", "sparse", 1, 4096).rows_per_s,
    cesaa_small_dense_rows_per_s_b4096_t1: find("cesaa_small", "dense", 1, 4096).rows_per_s,
    cesaa_wide_sparse_rows_per_s_b4096_t1: find("cesaa_wide", "sparse", 1, 4096).rows_per_s,
    cesaa_wide_dense_rows_per_s_b4096_t1: find("cesaa_wide", "dense", 1, 4096).rows_per_s,
    sparse_over_dense_8_experts: round2(find("cesaa_small", "sparse", 1, 4096).rows_per_s / find("cesaa_small", "dense", 1, 4096).rows_per_s),
    sparse_over_dense_32_experts: round2(find("cesaa_wide", "sparse", 1, 4096).rows_per_s / find("cesaa_wide", "dense", 1, 4096).rows_per_s),
    wide_sparse_over_small_sparse: round2(find("cesaa_wide", "sparse", 1, 4096).rows_per_s / find("cesaa_small", "sparse", 1, 4096).rows_per_s),
    cesaa_small_macs_per_row: macs,
    gemm_chain_rows_per_s_b4096_t1: chainRowsPerS,
    gemm_chain_gflops_t1: round2((2 * chain.macsPerRow * chainRowsPerS) / 1e9),
    cesaa_small_sparse_gflops_t1: gflops(find("cesaa_small", "sparse", 1, 4096).rows_per_s),
    cesaa_small_sparse_fraction_of_gemm_chain: round2(find("cesaa_small", "sparse", 1, 4096).rows_per_s / chainRowsPerS),
    cesaa_small_latency_us_b1_t1: find("cesaa_small", "sparse", 1, 1).latency_us,
  };
  return { rows, summary };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
