import type { RankingMetric } from "../spec/types.js";

/** Area under the ROC curve by the rank-sum formula; tied scores share their average rank. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] === 1) {
        positives++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function logloss(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = Math.min(Math.max(probabilities[i], 1e-7), 1 - 1e-7);
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return probabilities.length ? sum / probabilities.length : NaN;
}

export interface GroupMetrics {
  rows: number;
  positive_rate: number;
  auc: number;
  logloss: number;
}

export interface EvaluationMetrics {
  overall: GroupMetrics;
  domains: Record<string, GroupMetrics>;
  /** Mean of the per-domain AUCs that are defined (domains with both classes). */
  mean_domain_auc: number;
}

/** The value early stopping maximises for a metric (logloss is negated, so higher is always better). */
export function stoppingScore(metric: RankingMetric, m: EvaluationMetrics): number {
  return metric === "auc" ? m.overall.auc : metric === "mean_domain_auc" ? m.mean_domain_auc : -m.overall.logloss;
}

/** Overall and per-domain AUC, logloss, row counts and positive rates. */
export function evaluate(probabilities: ArrayLike<number>, labels: ArrayLike<number>, domains: ArrayLike<number>, domainNames: string[]): EvaluationMetrics {
  const group = (idx: number[]): GroupMetrics => {
    const p = idx.map((i) => probabilities[i]);
    const y = idx.map((i) => labels[i]);
    return { rows: idx.length, positive_rate: idx.length ? y.reduce((a, b) => a + b, 0) / idx.length : NaN, auc: auc(p, y), logloss: logloss(p, y) };
  };
  const all = Array.from({ length: labels.length }, (_, i) => i);
  const byDomain: Record<string, GroupMetrics> = {};
  domainNames.forEach((name, d) => (byDomain[name] = group(all.filter((i) => domains[i] === d))));
  const defined = Object.values(byDomain).map((m) => m.auc).filter((x) => !Number.isNaN(x));
  return { overall: group(all), domains: byDomain, mean_domain_auc: defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : NaN };
}
