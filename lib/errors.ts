/** Error kinds shared by every pirack module: each carries a stable `code` for logs and API answers. */

/** Base of every error pirack throws on purpose; `code` is stable, the message states expected vs received. */
export class PirackError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad bytes from the network: the server counts and drops the packet, it never kills the daemon. */
export class DecodeError extends PirackError {}

/** Something asked for does not exist (file, port, export); told apart from every other failure. */
export class NotFoundError extends PirackError {}

/** A config file that cannot be used; `problems` lists every one as `path: message`. */
export class ConfigError extends PirackError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], source?: string) {
    super("CONFIG_INVALID", `${source ?? "config"} is invalid:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

/** An operation on the outside world (exportfs, SNMP, mount) failed; the reconciler retries it later. */
export class OperationError extends PirackError {}
