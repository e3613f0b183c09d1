import { writeFileSync } from "node:fs";
import { prng } from "../../src/graph/init.js";

/**
 * A multi-domain click problem with known structure: users and items have latent effects a_u and b_i; in
 * domain d the log-odds are s_d · (a_u + b_i) + c_d · x + bias_d, with s_d of different signs, so a model
 * that ignores domains cannot fit it. Returns the generator's own probabilities for the AUC it allows.
 */
export function writeSynthetic(path: string, rows: number, seed: number): { probabilities: number[]; labels: number[]; domains: number[] } {
  const rnd = prng(seed, "synthetic");
  const latent = (n: number, salt: string) => {
    const r = prng(7, salt);
    return Array.from({ length: n }, () => (r() * 2 - 1) * 1.5);
  };
  const users = latent(200, "users");
  const items = latent(300, "items");
  const scale = [1.5, -1.5, 0.8];
  const slope = [1, -0.5, 0];
  const bias = [0.3, -0.2, 0];
  const names = ["news", "video", "shop"];
  const lines = ["user,item,x,domain,label"];
  const probabilities: number[] = [];
  const labels: number[] = [];
  const domains: number[] = [];
  for (let i = 0; i < rows; i++) {
    const u = Math.floor(rnd() * users.length);
    const it = Math.floor(rnd() * items.length);
    const d = Math.floor(rnd() * 3);
    const x = rnd() * 4 - 2;
    const p = 1 / (1 + Math.exp(-(scale[d] * (users[u] + items[it]) + slope[d] * x + bias[d])));
    const y = rnd() < p ? 1 : 0;
    lines.push(`u${u},i${it},${x.toFixed(4)},${names[d]},${y}`);
    probabilities.push(p);
    labels.push(y);
    domains.push(d);
  }
  writeFileSync(path, lines.join("\n") + "\n");
  return { probabilities, labels, domains };
}

export const syntheticSpec = (arch: string, train = "") => `
model synthetic {
  domain d { column: "domain", values: [news, video, shop] }
  features {
    categorical user { dim: 8 }
    categorical item { dim: 8 }
    numeric x {}
  }
${arch}
  train { optimizer: adam, lr: 0.01, batch_size: 256, epochs: 4, seed: 1, early_stopping { metric: auc, patience: 2 } ${train} }
}
`;

export const syntheticCesaa = `
  experts shared { scope: shared, count: 1, layers: [32] }
  experts specific { scope: routed, count: 4, layers: [32] }
  gate router { per: all, pools: [specific], type: topk, k: 2, inputs: [features, domain], always_on: [shared], noise: 0.05 }
  tower head { per: domain, input: router, layers: [16] }
  loss { mutual_information: 0.01, load_balance: 0.01 }
`;
