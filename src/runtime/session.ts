import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ort from "onnxruntime-node";
import { UserError } from "../diagnostics/errors.js";
import { joinParts, type ByteParts } from "../onnx/emit.js";

export type ExecutionProvider = "cpu" | "cuda";

export class ExecutionProviderError extends UserError {}

// ONNX Runtime 1.30 otherwise writes /tmp/mat-debug-<pid>.log and a telemetry database under
// ~/.cache/Microsoft on every session; it reads this variable when the first session starts.
process.env.ORT_DISABLE_TELEMETRY ??= "1";

const require = createRequire(import.meta.url);

/** The folder where onnxruntime-node keeps its native binaries for this platform. */
function ortBinDir(): string {
  const pkg = dirname(require.resolve("onnxruntime-node/package.json"));
  return join(pkg, "bin", "napi-v6", process.platform, process.arch);
}

/** Fails fast, with the install command, when the CUDA provider's binaries are not installed. */
export function assertCudaAvailable(): void {
  const lib = join(ortBinDir(), process.platform === "win32" ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so");
  if (!existsSync(lib)) {
    throw new ExecutionProviderError(
      "the CUDA execution provider is not installed (onnxruntime-node ships CPU binaries only). " +
      "On a Linux x64 machine with CUDA 12 and cuDNN 9 and internet access, run: " +
      "npm install onnxruntime-node --onnxruntime-node-install=cuda12  — or use --ep cpu.",
    );
  }
}

export interface SessionOptions {
  ep?: ExecutionProvider;
  threads?: number;
  /**
   * false: ONNX Runtime returns each run's working memory instead of keeping it for the next run, for a
   * session that lives beside a larger one (training's evaluations) and need not be fastest.
   */
  arena?: boolean;
  /**
   * The inputs' shapes change from run to run (a training step's touched rows): ONNX Runtime's memory
   * pattern, planned for one set of shapes, is then rarely reused and only fragments the arena (measured
   * on a training run: ~18 MB less peak memory without it, the same speed).
   */
  shapesVary?: boolean;
}

/** A session of a model file, or of a model's bytes (whole, or the pieces the compiler emits). */
export async function createSession(model: string | Uint8Array | ByteParts, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  const ep = options.ep ?? "cpu";
  if (ep === "cuda") assertCudaAvailable();
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    ...(options.arena === false ? { enableCpuMemArena: false, enableMemPattern: false } : {}),
    ...(options.shapesVary ? { enableMemPattern: false } : {}),
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  };
  try {
    if (typeof model === "string") return await ort.InferenceSession.create(model, sessionOptions);
    const bytes = model instanceof Uint8Array ? model : joinParts(model);
    return await ort.InferenceSession.create(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), sessionOptions);
  } catch (e) {
    if (typeof model !== "string") throw e; // a graph mdrc just built: a bug, not the user's file
    throw new UserError(`cannot load ${model}: ${(e as Error).message.split("\n")[0]}; recompile the model`);
  }
}
