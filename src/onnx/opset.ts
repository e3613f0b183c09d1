/** The ONNX release each supported opset belongs to: its IR version and ai.onnx.ml opset. */
const releases: Record<number, { ir: number; ml: number; onnx: string }> = {
  17: { ir: 8, ml: 3, onnx: "1.12" },
  18: { ir: 8, ml: 3, onnx: "1.13" },
  19: { ir: 9, ml: 3, onnx: "1.14" },
  20: { ir: 9, ml: 4, onnx: "1.15" },
  21: { ir: 10, ml: 4, onnx: "1.16" },
};

export const DEFAULT_OPSET = 17;
export const supportedOpsets = Object.keys(releases).map(Number);

export function opsetInfo(opset: number): { ir: number; ml: number; onnx: string } {
  const r = releases[opset];
  if (!r) throw new RangeError(`opset ${opset} is not supported; use one of ${supportedOpsets.join(", ")}`);
  return r;
}
