/**
 * Request path policy: confines a TFTP filename to the firmware root and splits off the Pi's
 * serial (or MAC) prefix folder. Pure; the file store re-checks symlinks against the real root.
 */

/** Files generated per Pi from the plan instead of read from `boot.firmware`. */
export type GeneratedFile = "cmdline.txt" | "config.txt";

/** A filename that passed the policy. */
export interface ResolvedPath {
  /** The prefix folder the Pi asked for (`0660cd37`, or `dc-a6-32-01-36-c2` with TFTP_PREFIX=2), or null. */
  readonly serialFolder: string | null;
  /** Path relative to the firmware root, `/`-separated, with no empty, `.` or `..` segments. */
  readonly relativePath: string;
  /** Set when the file is one of the per-Pi generated files. */
  readonly generated: GeneratedFile | null;
}

/** Why a filename was refused; `reason` is a stable token for logs and metrics. */
export interface RefusedPath {
  readonly refused: "empty" | "absolute" | "traversal" | "backslash" | "control-character" | "too-long" | "bad-segment";
}

// Pi serial prefix: low 32 bits of the serial as 8 lowercase hex digits (pi-netboot.md §2.4, boot-net.adoc).
const SERIAL_FOLDER = /^[0-9a-f]{8}$/;
// Pi 4/5 EEPROM TFTP_PREFIX=2: the MAC in lowercase with dashes (eeprom-bootloader.adoc).
const MAC_FOLDER = /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/;
// Longest filename accepted; Pi names are short and a 512-byte RRQ cannot carry much more anyway.
const MAX_PATH_LENGTH = 255;

const GENERATED: ReadonlySet<string> = new Set<GeneratedFile>(["cmdline.txt", "config.txt"]);

/** True for an 8-hex-digit serial folder or a dashed-MAC folder name. */
export const isPrefixFolder = (segment: string): boolean => SERIAL_FOLDER.test(segment) || MAC_FOLDER.test(segment);

/**
 * Checks and splits a requested filename. Refuses, rather than normalises, anything odd: an
 * absolute path, `..`, `.` or empty segments, backslashes (Windows-style traversal such as
 * `..\..\etc\passwd`), NUL and other control characters.
 */
export function resolveRequestPath(filename: string): ResolvedPath | RefusedPath {
  if (filename.length === 0) return { refused: "empty" };
  if (filename.length > MAX_PATH_LENGTH) return { refused: "too-long" };
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\x00-\x1f\x7f]/.test(filename)) return { refused: "control-character" };
  if (filename.includes("\\")) return { refused: "backslash" };
  if (filename.startsWith("/")) return { refused: "absolute" };
  const segments = filename.split("/");
  if (segments.includes("..")) return { refused: "traversal" };
  if (segments.some((s) => s === "" || s === ".")) return { refused: "bad-segment" };
  let serialFolder: string | null = null;
  if (segments.length > 1 && isPrefixFolder(segments[0]!)) serialFolder = segments.shift()!;
  const relativePath = segments.join("/");
  return { serialFolder, relativePath, generated: GENERATED.has(relativePath) ? (relativePath as GeneratedFile) : null };
}

/** Narrows a policy answer to the refused case. */
export const isRefused = (p: ResolvedPath | RefusedPath): p is RefusedPath => "refused" in p;
