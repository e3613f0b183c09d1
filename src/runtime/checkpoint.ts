import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { UserError } from "../diagnostics/errors.js";
import { tempPathFor } from "./output.js";

/**
 * Checkpoints are safetensors files (an 8-byte header length, a JSON header, raw little-endian tensor
 * bytes): a format PyTorch, JAX and Rust tooling read as is. mdrc adds to the header's __metadata__ the
 * format name and version and a SHA-256 of the whole file — header (with the digest's own place zeroed)
 * and tensor bytes — so an edited step, vocabulary or shape fails the check like a flipped weight; writes atomically
 * (temporary file, fsync, rename), so a crash leaves the previous checkpoint intact.
 */
export const CHECKPOINT_FORMAT = "mdrc-checkpoint";
export const CHECKPOINT_VERSION = "2";

const UNSET = "0".repeat(64);

export class CheckpointError extends UserError {
  constructor(message: string) {
    super(message, 1);
  }
}

export interface CheckpointTensor {
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint {
  tensors: Map<string, CheckpointTensor>;
  metadata: Record<string, string>;
}

/** The file's bytes as chunks (header, then each tensor), without copying the tensors. */
export function checkpointChunks(checkpoint: Checkpoint): Uint8Array[] {
  const names = [...checkpoint.tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const name of names) {
    const t = checkpoint.tensors.get(name)!;
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  header.__metadata__ = { ...checkpoint.metadata, format: CHECKPOINT_FORMAT, format_version: CHECKPOINT_VERSION, sha256: UNSET };
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // safetensors pads the header to 8 bytes
  const hash = createHash("sha256").update(json);
  for (const name of names) hash.update(bytesOf(checkpoint.tensors.get(name)!.data));
  const headerBytes = Buffer.from(json.replace(`"sha256":"${UNSET}"`, `"sha256":"${hash.digest("hex")}"`), "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  return [length, headerBytes, ...names.map((name) => bytesOf(checkpoint.tensors.get(name)!.data))];
}

export function writeCheckpoint(path: string, checkpoint: Checkpoint): void {
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, "w");
  try {
    for (const chunk of checkpointChunks(checkpoint)) writeSync(fd, chunk);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function readCheckpoint(path: string): Checkpoint {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  if (bytes.length < 8) throw new CheckpointError(`${path} is truncated`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (8 + headerLength > bytes.length) throw new CheckpointError(`${path} is truncated`);
  const headerText = bytes.subarray(8, 8 + headerLength).toString("utf8");
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(headerText);
    if (!header || typeof header !== "object" || Array.isArray(header)) throw new Error();
  } catch {
    throw new CheckpointError(`${path} has a corrupt header`);
  }
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${path} is not an mdrc checkpoint`);
  if (metadata.format_version !== CHECKPOINT_VERSION && metadata.format_version !== "1") {
    throw new CheckpointError(`${path} has checkpoint format version ${metadata.format_version}; this mdrc reads ${CHECKPOINT_VERSION}`);
  }
  const data = bytes.subarray(8 + headerLength);
  const tensors = new Map<string, CheckpointTensor>();
  const hash = createHash("sha256");
  // Version 1 hashed the tensor bytes only; version 2 hashes the header too.
  if (metadata.format_version !== "1") hash.update(headerText.replace(`"sha256":"${metadata.sha256}"`, `"sha256":"${UNSET}"`));
  const names = Object.keys(header).filter((k) => k !== "__metadata__").sort();
  for (const name of names) {
    const t = header[name] as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const [start, end] = Array.isArray(t?.data_offsets) ? (t.data_offsets as unknown[]) : [];
    const shape = Array.isArray(t?.shape) ? (t.shape as unknown[]) : undefined;
    const values = shape?.every((d) => Number.isSafeInteger(d) && (d as number) >= 0) ? (shape as number[]).reduce((a, b) => a * b, 1) : -1;
    if (t?.dtype !== "F32" || !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || (start as number) < 0 || (end as number) > data.length ||
      (end as number) - (start as number) !== values * 4) {
      throw new CheckpointError(`${path}: tensor ${name} is damaged (dtype, shape or data_offsets do not fit the file)`);
    }
    const slice = data.subarray(start as number, end as number);
    hash.update(slice);
    const copy = new Float32Array(values);
    new Uint8Array(copy.buffer).set(slice);
    tensors.set(name, { shape: shape as number[], data: copy });
  }
  if (hash.digest("hex") !== metadata.sha256) throw new CheckpointError(`${path} fails its checksum (damaged, edited or partly written)`);
  return { tensors, metadata };
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
