/**
 * The ONNX operators mdrc emits. The autodiff engine's rule table is keyed by `DifferentiableOp`, so a
 * differentiable op without a gradient rule, or a rule for an op that does not exist, fails to compile.
 */
export const DIFFERENTIABLE_OPS = [
  "Abs", "Add", "Cast", "Concat", "Div", "Elu", "Erf", "Exp", "Expand", "Flatten", "Gather", "GatherElements", "Identity",
  "LayerNormalization", "LeakyRelu", "Log", "MatMul", "Max", "Min", "Mul", "Neg", "ReduceMean", "ReduceSum", "Relu",
  "Reshape", "Sigmoid", "Softmax", "Softplus", "Split", "Sqrt", "Squeeze", "Sub", "Tanh", "TopK", "Transpose", "Unsqueeze",
  "Where",
] as const;

/** Ops whose outputs carry no gradient (integer/boolean results, index choices, random draws). */
export const NON_DIFFERENTIABLE_OPS = [
  "Equal", "Greater", "GreaterOrEqual", "Less", "And", "Or", "Not", "IsNaN", "NonZero", "CumSum", "Shape", "Size",
  "ConstantOfShape", "LabelEncoder", "StringSplit", "Floor", "Sin", "Cos",
] as const;

/** Ops emitted only by backward passes and optimizer updates, which are never differentiated again. */
export const BACKWARD_ONLY_OPS = ["GatherND", "Pow", "ReduceMax", "ScatterElements", "ScatterND"] as const;

export type DifferentiableOp = (typeof DIFFERENTIABLE_OPS)[number];
export type NonDifferentiableOp = (typeof NON_DIFFERENTIABLE_OPS)[number];
export type OpType = DifferentiableOp | NonDifferentiableOp | (typeof BACKWARD_ONLY_OPS)[number];

export const isDifferentiable = (op: string): op is DifferentiableOp => (DIFFERENTIABLE_OPS as readonly string[]).includes(op);
export const nonDifferentiableOps: ReadonlySet<string> = new Set(NON_DIFFERENTIABLE_OPS);
