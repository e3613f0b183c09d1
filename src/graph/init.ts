import { fnv1a } from "../plan/model-data.js";
import type { TensorData } from "./tensor.js";

/** splitmix32-style generator; deterministic across platforms (integer ops only before the final scale). */
export function prng(seed: number, name: string): () => number {
  let s = (fnv1a(name) ^ Math.imul(seed >>> 0, 0x9e3779b9)) >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

export function uniform(seed: number, name: string, shape: number[], bound: number): TensorData {
  const rnd = prng(seed, name);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (rnd() * 2 - 1) * bound;
  return { dtype: "float32", shape, data };
}

export function filled(shape: number[], value: number): TensorData {
  return { dtype: "float32", shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value) };
}
