/**
 * A mistake in what the user gave mdr (a file, a flag, a folder): printed as one line with no stack
 * trace, and the process exits with `exitCode` (1 for bad content, 2 for usage and unreadable inputs,
 * 130 for an interruption). Anything else that reaches the CLI is a bug in mdrc.
 */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2, readonly kind = "error") {
    super(message);
  }
}

/** A file-system error in words ("permission denied"), for messages that name the path themselves. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    EROFS: "read-only file system", EACCES: "permission denied", EPERM: "permission denied", ENOSPC: "no space left on the device",
    ENOTDIR: "a part of the path is a file", EEXIST: "it exists", EISDIR: "it is a folder", ENOENT: "no such file or folder",
  };
  return (code && known[code]) ?? (e as Error).message;
}
