import type ort from "onnxruntime-node";
import type { Manifest } from "../compiler/inference.js";

/** What one gate did on a data set, by domain. */
export interface GateStatistics {
  /** top-k: share of the k slots each expert took; dense: mean gate weight. [domain][choice], rows sum to 1. */
  usage: number[][];
  /** Rows per domain. */
  rows: number[];
  /**
   * Mutual information between the router's choice and the domain, in nats (0 when choices ignore the
   * domain); null for a per-domain gate whose choice j is a different expert in each domain.
   */
  mutual_information: number | null;
  /** "experts": choice j is expert j for every domain; "per-domain": each domain chooses among its own. */
  choices: "experts" | "per-domain";
  /** Entropy of the domain mix, in nats: the largest value the mutual information can reach. */
  domain_entropy: number;
  /** The load-balance loss's value over the whole set: E · Σ_e f_e · P_e (1 when perfectly balanced). */
  load_balance: number;
  /** How usage is measured. */
  measure: "top-k slots" | "gate weight";
}

interface Accumulator {
  choices: number;
  k: number;
  probability: number[][]; // [d][e] sums of router probabilities
  slots: number[][]; // [d][e] selections
  rows: number[];
}

/**
 * Accumulates router statistics from the `debug.<gate>.probabilities` and `debug.<gate>.selected` outputs
 * of a model compiled with debug outputs, batch by batch, with each row's domain id.
 */
export class RouterStatistics {
  private readonly gates = new Map<string, Accumulator>();

  /** `perDomainChoices`: gates whose choice j means another expert in each domain (PLE's per-domain gates). */
  constructor(private readonly domains: string[], private readonly perDomainChoices: ReadonlySet<string> = new Set()) {}

  /** Gates whose statistics a model's outputs carry. */
  static gatesOf(manifest: Manifest): string[] {
    return manifest.outputs.map((o) => o.name.match(/^debug\.(.+)\.probabilities$/)?.[1]).filter((x): x is string => x !== undefined);
  }

  add(outputs: Record<string, ort.Tensor>, domainIds: ArrayLike<number>): void {
    for (const [name, t] of Object.entries(outputs)) {
      const gate = name.match(/^debug\.(.+)\.probabilities$/)?.[1];
      if (!gate) continue;
      const E = t.dims[1];
      const selected = outputs[`debug.${gate}.selected`];
      const k = selected ? selected.dims[1] : 0;
      const acc = this.gates.get(gate) ?? { choices: E, k, probability: this.matrix(E), slots: this.matrix(E), rows: this.domains.map(() => 0) };
      this.gates.set(gate, acc);
      const p = t.data as Float32Array;
      const s = selected?.data as BigInt64Array | undefined;
      for (let i = 0; i < domainIds.length; i++) {
        const d = domainIds[i];
        acc.rows[d]++;
        const row = acc.probability[d];
        for (let e = 0; e < E; e++) row[e] += p[i * E + e];
        if (s) for (let j = 0; j < k; j++) acc.slots[d][Number(s[i * k + j])]++;
      }
    }
  }

  result(): Record<string, GateStatistics> {
    const out: Record<string, GateStatistics> = {};
    for (const [gate, a] of this.gates) out[gate] = gateStatistics(a, this.perDomainChoices.has(gate));
    return out;
  }

  private matrix(E: number): number[][] {
    return this.domains.map(() => new Array<number>(E).fill(0));
  }
}

function gateStatistics(a: Accumulator, perDomain: boolean): GateStatistics {
  const N = a.rows.reduce((x, y) => x + y, 0);
  const topk = a.k > 0;
  const usage = a.rows.map((n, d) => (topk ? a.slots[d] : a.probability[d]).map((v) => (n ? v / (topk ? n * a.k : n) : 0)));
  const pd = a.rows.map((n) => (N ? n / N : 0));
  const pe = new Array<number>(a.choices).fill(0);
  usage.forEach((u, d) => u.forEach((v, e) => (pe[e] += pd[d] * v)));
  let mi = 0;
  usage.forEach((u, d) => u.forEach((v, e) => {
    if (v > 0 && pd[d] > 0) mi += pd[d] * v * Math.log(v / pe[e]);
  }));
  const entropy = -pd.reduce((h, p) => h + (p > 0 ? p * Math.log(p) : 0), 0);
  // Load balance over the whole set: f from the choices (or mean weights for a dense gate), P from the probabilities.
  const meanP = new Array<number>(a.choices).fill(0);
  a.probability.forEach((row) => row.forEach((v, e) => (meanP[e] += N ? v / N : 0)));
  const f = topk ? pe : meanP;
  const lb = a.choices * f.reduce((s, fe, e) => s + fe * meanP[e], 0);
  return {
    usage, rows: a.rows, mutual_information: perDomain ? null : Math.max(0, mi), choices: perDomain ? "per-domain" : "experts",
    domain_entropy: entropy, load_balance: lb, measure: topk ? "top-k slots" : "gate weight",
  };
}

/** A compact expert × domain table of one gate's usage, in percent, for the terminal. */
export function usageTable(gate: string, s: GateStatistics, domains: string[]): string {
  const E = s.usage[0]?.length ?? 0;
  const w = Math.max(6, ...domains.map((d) => d.length));
  const column = s.choices === "experts" ? "e" : "c";
  const head = `gate ${gate}: share of ${s.measure} per domain, %${s.choices === "experts" ? "" : " (c0… are each domain's own choices)"}\n` +
    "domain".padEnd(w) + Array.from({ length: E }, (_, e) => `${column}${e}`.padStart(5)).join("");
  const lines = domains.map((d, i) => d.padEnd(w) + s.usage[i].map((v) => (100 * v).toFixed(0).padStart(5)).join(""));
  const mi = s.mutual_information === null
    ? `load balance ${s.load_balance.toFixed(3)} (no router–domain mutual information: each domain chooses among its own experts)`
    : `mutual information ${s.mutual_information.toFixed(3)} of ${s.domain_entropy.toFixed(3)} nats; load balance ${s.load_balance.toFixed(3)}`;
  return [head, ...lines, mi].join("\n");
}
