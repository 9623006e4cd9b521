/**
 * exports(5) rendering and parsing (pure). The kernel backend owns one file,
 * `/etc/exports.d/pirack.exports`, with one line per Pi: `<path> <client>(<options>)`.
 */
import { DecodeError } from "../errors.ts";
import type { ExportSpec } from "./types.ts";

/**
 * Options every Pi root gets. `sync`: a Pi's root must survive a fileserver crash (exports(5) warns
 * that `async` can lose data); `no_root_squash`: the Pi's root user owns its root filesystem;
 * `no_subtree_check`: each export is a whole tree, and subtree checking breaks renames (exports(5)).
 */
export const DEFAULT_EXPORT_OPTIONS = ["rw", "sync", "no_subtree_check", "no_root_squash"] as const;

/** Path of pirack's exports file below a sysroot. */
export const KERNEL_EXPORTS_FILE = "/etc/exports.d/pirack.exports";

const FILE_HEADER = "# Written by pirack: one NFS root per Pi, each visible only to its Pi's address. Do not edit.\n";

/** Characters exports(5) would split on or treat specially; such paths are refused rather than quoted. */
const UNSAFE_PATH = /[\s"\\#()]/;

/** Throws when a spec cannot be written as one exports(5) line. */
export function checkExportSpec(spec: ExportSpec): void {
  if (!spec.path.startsWith("/") || UNSAFE_PATH.test(spec.path)) {
    throw new DecodeError("EXPORT_BAD_PATH", `export path must be absolute without blanks, quotes or parentheses, got ${JSON.stringify(spec.path)}`);
  }
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(spec.clientAddress)) {
    throw new DecodeError("EXPORT_BAD_CLIENT", `export client must be one IPv4 address, got ${JSON.stringify(spec.clientAddress)}`);
  }
  for (const opt of spec.options ?? []) {
    if (!/^[a-z_]+(=[\w:.-]+)?$/.test(opt)) throw new DecodeError("EXPORT_BAD_OPTION", `export option ${JSON.stringify(opt)} is not a word or word=value`);
  }
}

/** Renders one exports(5) line, e.g. `/export/10.46.189.2 10.46.189.2(rw,sync,no_subtree_check,no_root_squash)`. */
export function renderExportsLine(spec: ExportSpec): string {
  checkExportSpec(spec);
  return `${spec.path} ${spec.clientAddress}(${(spec.options ?? DEFAULT_EXPORT_OPTIONS).join(",")})`;
}

/** Renders the whole file, sorted by path so that equal sets always give equal bytes. */
export function renderExportsFile(specs: readonly ExportSpec[]): string {
  const lines = [...specs].sort((a, b) => a.path.localeCompare(b.path)).map(renderExportsLine);
  return FILE_HEADER + lines.map((l) => l + "\n").join("");
}

/**
 * Parses an exports(5) file as pirack writes it: `path client(opts)` per line, comments and blank
 * lines skipped, a trailing `\` joining lines. Several clients on one line give one spec each.
 */
export function parseExportsFile(text: string): ExportSpec[] {
  const specs: ExportSpec[] = [];
  const joined = text.replace(/\\\n/g, " ");
  joined.split("\n").forEach((raw, index) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") return;
    const [path, ...clients] = line.split(/\s+/);
    if (path === undefined || clients.length === 0) {
      throw new DecodeError("EXPORTS_MALFORMED_LINE", `exports line ${index + 1}: expected "path client(options)", got ${JSON.stringify(raw)}`);
    }
    for (const client of clients) specs.push({ path, ...parseClient(client, index + 1) });
  });
  return specs;
}

/**
 * Parses `exportfs -v` output. A path longer than exportfs's column is printed alone, with its
 * clients on the next, tab-indented line (nfs-utils 2.6.2 `exportfs.c` dump()); both forms occur.
 */
export function parseExportfsVerbose(text: string): ExportSpec[] {
  const specs: ExportSpec[] = [];
  let path: string | undefined;
  text.split("\n").forEach((raw, index) => {
    if (raw.trim() === "") return;
    const indented = /^\s/.test(raw);
    const fields = raw.trim().split(/\s+/);
    if (!indented) path = fields.shift();
    if (path === undefined) throw new DecodeError("EXPORTFS_MALFORMED", `exportfs line ${index + 1}: client before any path: ${JSON.stringify(raw)}`);
    for (const client of fields) specs.push({ path, ...parseClient(client, index + 1) });
  });
  return specs;
}

function parseClient(field: string, lineNumber: number): { clientAddress: string; options: string[] } {
  const m = /^([^()]+)(?:\(([^()]*)\))?$/.exec(field);
  if (!m || m[1] === undefined) throw new DecodeError("EXPORTS_MALFORMED_CLIENT", `line ${lineNumber}: expected client(options), got ${JSON.stringify(field)}`);
  return { clientAddress: m[1], options: m[2] ? m[2].split(",") : [] };
}

/**
 * True when a live export grants what the spec asks for. exportfs reports defaults too (wdelay,
 * hide, sec=sys...), so the live options must include the desired ones, not equal them.
 */
export function exportSatisfies(live: ExportSpec, desired: ExportSpec): boolean {
  if (live.path !== desired.path || live.clientAddress !== desired.clientAddress) return false;
  const have = new Set(live.options ?? []);
  return (desired.options ?? DEFAULT_EXPORT_OPTIONS).every((o) => have.has(o));
}
