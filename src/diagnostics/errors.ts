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
