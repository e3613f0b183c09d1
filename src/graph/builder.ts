import { compilerAssert } from "../diagnostics/diagnostic.js";
import type { AttrValue, DType, Dim, Tensor, TensorData } from "./tensor.js";
import type { OpType } from "./op-types.js";

export interface Node {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, AttrValue>>;
}

export interface Initializer extends TensorData {
  readonly name: string;
}

export interface GraphIO extends Tensor {
  readonly doc?: string;
}

/**
 * Collects nodes, parameters and inputs of one graph. Names come from a scope stack
 * (`pool.specific.expert3.dense1.weight`), so a graph viewer shows the architecture.
 */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: GraphIO[] = [];
  readonly outputs: GraphIO[] = [];
  private readonly scopes: string[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, Tensor>();
  /** Names of trainable parameters, as opposed to constants. */
  readonly parameters = new Set<string>();
  /** Parameters that are state, not trained (a subset of `parameters`). */
  readonly states = new Set<string>();
  /** Every value by name, for passes that walk the graph (autodiff). */
  readonly values = new Map<string, Tensor>();
  /**
   * In a training graph parameters are graph inputs (they change every step) and their initial values
   * are kept here instead of as initializers.
   */
  readonly parameterInit = new Map<string, TensorData>();

  constructor(readonly opset: number, readonly training = false) {}

  /** Runs `fn` with `name` appended to the naming scope. */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** Runs `fn` at the top-level scope (for things shared across scopes, such as embedding tables). */
  atRoot<T>(fn: () => T): T {
    const saved = this.scopes.splice(0);
    try {
      return fn();
    } finally {
      this.scopes.push(...saved);
    }
  }

  /** A fresh value name under the current scope. */
  fresh(base: string): string {
    const prefix = this.scopes.length ? `${this.scopes.join(".")}.` : "";
    let name = `${prefix}${base}`;
    for (let i = 1; this.used.has(name); i++) name = `${prefix}${base}_${i}`;
    this.used.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: Dim[], doc?: string): Tensor {
    compilerAssert(!this.used.has(name), `duplicate graph input ${name}`);
    this.used.add(name);
    const t = { name, dtype, shape, ...(doc ? { doc } : {}) };
    this.inputs.push(t);
    this.values.set(name, t);
    return t;
  }

  output(t: Tensor, name: string, doc?: string): Tensor {
    const out = this.node("Identity", [t], {}, [{ dtype: t.dtype, shape: [...t.shape] }], name)[0];
    this.outputs.push({ ...out, ...(doc ? { doc } : {}) });
    return out;
  }

  /** Trained values by parameter name: large tables take them directly instead of drawing initial values first. */
  trained?: Map<string, Float32Array>;

  /** A trainable parameter (an initializer) named under the current scope. */
  param(base: string, data: TensorData): Tensor {
    return this.paramNamed(this.fresh(base), data);
  }

  /** Non-trainable state kept with the parameters (running statistics): a parameter the optimizer skips. */
  state(base: string, data: TensorData): Tensor {
    const t = this.param(base, data);
    this.states.add(t.name);
    return t;
  }

  /** A parameter whose name was already reserved with `fresh` (its init stream is keyed by the name). */
  paramNamed(name: string, data: TensorData): Tensor {
    this.parameters.add(name);
    if (this.training) {
      this.parameterInit.set(name, data);
      const t = { name, dtype: data.dtype, shape: [...data.shape] };
      this.inputs.push(t);
      this.values.set(name, t);
      return t;
    }
    this.initializers.push({ name, ...data });
    const t = { name, dtype: data.dtype, shape: [...data.shape] };
    this.values.set(name, t);
    return t;
  }

  /** A constant, deduplicated by value so repeated small constants are stored once. */
  constant(data: TensorData, base = "const"): Tensor {
    const key = `${data.dtype}|${data.shape.join(",")}|${Array.from(data.data as ArrayLike<unknown>, String).join(",")}`;
    const hit = this.constants.get(key);
    if (hit) return hit;
    const name = this.fresh(base);
    this.initializers.push({ name, ...data });
    const t = { name, dtype: data.dtype, shape: [...data.shape] };
    this.constants.set(key, t);
    this.values.set(name, t);
    return t;
  }

  /** The values of a constant created with `constant`, by its name (for passes that read axes). */
  constantValue(name: string): number[] {
    const init = this.initializers.find((i) => i.name === name);
    compilerAssert(init !== undefined, `${name} is not a constant`);
    return Array.from(init.data as ArrayLike<number | bigint>, Number);
  }

  /**
   * The nodes some graph output depends on, in order. A backward rule computes the gradient of every
   * input of its node, and some of those lead nowhere (an index input, a constant); they are not emitted.
   */
  liveNodes(): Node[] {
    const needed = new Set(this.outputs.map((o) => o.name));
    const live: boolean[] = new Array(this.nodes.length).fill(false);
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.outputs.some((o) => needed.has(o))) continue;
      live[i] = true;
      for (const input of n.inputs) if (input) needed.add(input);
    }
    return this.nodes.filter((_, i) => live[i]);
  }

  /** Adds a node; output types come from the op constructor's shape inference. */
  node(opType: OpType, inputs: (Tensor | undefined)[], attributes: Record<string, AttrValue>, outputs: { dtype: DType; shape: Dim[] }[],
    outputName?: string, domain = ""): Tensor[] {
    const outs = outputs.map((o, i) => ({
      name: outputName && i === 0 ? this.claim(outputName) : this.fresh(`${opType}${outputs.length > 1 ? `_out${i}` : ""}`),
      dtype: o.dtype,
      shape: o.shape,
    }));
    for (const o of outs) this.values.set(o.name, o);
    this.nodes.push({
      name: this.fresh(`${opType}_node`),
      opType,
      domain,
      inputs: inputs.map((t) => t?.name ?? ""),
      outputs: outs.map((o) => o.name),
      attributes,
    });
    return outs;
  }

  private claim(name: string): string {
    compilerAssert(!this.used.has(name), `duplicate value name ${name}`);
    this.used.add(name);
    return name;
  }
}
