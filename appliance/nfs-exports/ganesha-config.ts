/**
 * nfs-ganesha configuration rendering and parsing (pure). pirack owns one file of EXPORT blocks,
 * included from the main ganesha.conf with `%include`; each block lets exactly one client in.
 */
import { DecodeError } from "../errors.ts";
import { checkExportSpec, DEFAULT_EXPORT_OPTIONS } from "./exports-file.ts";
import type { ExportSpec } from "./types.ts";

/** Default path of pirack's ganesha exports file below a sysroot. */
export const GANESHA_EXPORTS_FILE = "/etc/ganesha/pirack-exports.conf";

const FILE_HEADER = "# Written by pirack: one EXPORT per Pi, each visible only to its Pi's address. Do not edit.\n";

/**
 * Export_Id for a spec: the client address's low 16 bits (10.46.189.2 -> 189*256+2). Stable across
 * restarts and unique within any storage network up to a /16; 0 is ganesha's pseudo root, 1..65535 valid.
 */
export function ganeshaExportId(spec: ExportSpec): number {
  const octets = spec.clientAddress.split(".").map(Number);
  return ((octets[2] ?? 0) << 8) | (octets[3] ?? 0);
}

/** Maps exports(5) options onto ganesha's Access_Type and Squash (the only two it needs per Pi). */
function ganeshaAccess(options: readonly string[]): { access: "RW" | "RO"; squash: string } {
  const access = options.includes("ro") ? "RO" : "RW";
  const squash = options.includes("all_squash") ? "All_Squash" : options.includes("no_root_squash") ? "No_Root_Squash" : "Root_Squash";
  return { access, squash };
}

/**
 * Renders one EXPORT block. `Pseudo` equals `Path` so that `nfsroot=SERVER:/export/<ip>` works over
 * NFSv3 (with `Mount_Path_Pseudo = true`) and NFSv4 alike (reference/testbed.md §2). The export
 * itself grants nothing (`Access_Type = None`); only the CLIENT block for the Pi's address does.
 */
export function renderGaneshaExport(spec: ExportSpec): string {
  checkExportSpec(spec);
  const { access, squash } = ganeshaAccess(spec.options ?? DEFAULT_EXPORT_OPTIONS);
  return [
    "EXPORT {",
    `    Export_Id = ${ganeshaExportId(spec)};`,
    `    Path = "${spec.path}";`,
    `    Pseudo = "${spec.path}";`,
    "    Protocols = 3, 4;",
    "    Transports = TCP;",
    "    SecType = sys;",
    "    Access_Type = None;",
    `    Squash = ${squash};`,
    "    FSAL { Name = VFS; }",
    `    CLIENT { Clients = ${spec.clientAddress}; Access_Type = ${access}; Squash = ${squash}; }`,
    "}",
  ].join("\n");
}

/** Renders pirack's exports file, sorted by path; throws when two Pis would share an Export_Id. */
export function renderGaneshaExportsFile(specs: readonly ExportSpec[]): string {
  const sorted = [...specs].sort((a, b) => a.path.localeCompare(b.path));
  const seen = new Map<number, string>();
  for (const spec of sorted) {
    const id = ganeshaExportId(spec);
    const other = seen.get(id);
    if (other !== undefined) throw new DecodeError("GANESHA_EXPORT_ID_CLASH", `export ids clash: ${other} and ${spec.clientAddress} both map to ${id}`);
    seen.set(id, spec.clientAddress);
  }
  return FILE_HEADER + sorted.map((s) => renderGaneshaExport(s) + "\n").join("");
}

/** Options for a standalone ganesha.conf (the bench and tests run ganesha with this). */
export interface GaneshaMainConfigOptions {
  /** pirack's exports file to `%include`. */
  readonly exportsFile: string;
  /** NFSv3 MOUNT port; fixed so that firewalls and clients need no portmapper guesswork. */
  readonly mountPort?: number;
}

/**
 * Renders a main ganesha.conf for NFS roots: v3 + v4 over TCP, no NLM (Pis mount their root with
 * `nolock`), no grace period (NFSv4 clients otherwise wait 90 s after every restart), deny by default.
 */
export function renderGaneshaMainConfig(opts: GaneshaMainConfigOptions): string {
  return [
    "NFS_CORE_PARAM {",
    "    Protocols = 3, 4;",
    "    NFS_Port = 2049;",
    `    MNT_Port = ${opts.mountPort ?? 20048};`,
    "    Enable_NLM = false;",
    "    Enable_RQUOTA = false;",
    "    Enable_UDP = false;",
    "    Mount_Path_Pseudo = true;",
    "}",
    "NFSV4 { Graceless = true; RecoveryBackend = fs; }",
    "LOG { Default_Log_Level = EVENT; }",
    "EXPORT_DEFAULTS { Access_Type = None; }",
    `%include "${opts.exportsFile}"`,
    "",
  ].join("\n");
}

/** A parsed ganesha config block: `NAME { key = value; ... NESTED { ... } }`. */
export interface GaneshaBlock {
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
  readonly blocks: readonly GaneshaBlock[];
}

/** Splits ganesha config text into tokens: words, quoted strings, `{`, `}`, `=`, `;`. Comments dropped. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s+|#[^\n]*|"([^"]*)"|([{}=;])|([^\s{}=;"#]+)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    if (m[1] !== undefined) tokens.push(m[1]);
    else if (m[2] !== undefined) tokens.push(m[2]);
    else if (m[3] !== undefined) tokens.push(m[3]);
  }
  if (re.lastIndex < text.length) throw new DecodeError("GANESHA_CONFIG_SYNTAX", `unexpected character at offset ${re.lastIndex}`);
  return tokens;
}

/** Parses blocks of ganesha config (the subset pirack writes; `%include` lines are not followed). */
export function parseGaneshaConfig(text: string): GaneshaBlock[] {
  const tokens = tokenize(text.replace(/^%include.*$/gm, ""));
  let i = 0;
  const parseBody = (name: string): GaneshaBlock => {
    const params: Record<string, string> = {};
    const blocks: GaneshaBlock[] = [];
    while (i < tokens.length && tokens[i] !== "}") {
      const key = tokens[i++] ?? "";
      const next = tokens[i++];
      if (next === "{") {
        blocks.push(parseBody(key));
        if (tokens[i++] !== "}") throw new DecodeError("GANESHA_CONFIG_SYNTAX", `block ${key} is not closed`);
      } else if (next === "=") {
        const values: string[] = [];
        while (i < tokens.length && tokens[i] !== ";" && tokens[i] !== "}") values.push(tokens[i++] ?? "");
        if (tokens[i] === ";") i++;
        params[key.toLowerCase()] = values.join(" ").replace(/ ,/g, ",");
      } else {
        throw new DecodeError("GANESHA_CONFIG_SYNTAX", `expected "=" or "{" after ${JSON.stringify(key)}, got ${JSON.stringify(next)}`);
      }
    }
    return { name, params, blocks };
  };
  const top = parseBody("");
  if (i < tokens.length) throw new DecodeError("GANESHA_CONFIG_SYNTAX", `unbalanced "}" at token ${i}`);
  return [...top.blocks];
}

/** Reads back the exports in a file pirack wrote, as specs comparable with the desired ones. */
export function parseGaneshaExports(text: string): ExportSpec[] {
  return parseGaneshaConfig(text)
    .filter((b) => b.name.toUpperCase() === "EXPORT")
    .flatMap((b) => {
      const path = b.params["path"];
      if (path === undefined) throw new DecodeError("GANESHA_EXPORT_NO_PATH", `EXPORT block without Path: ${JSON.stringify(b.params)}`);
      return b.blocks
        .filter((c) => c.name.toUpperCase() === "CLIENT")
        .flatMap((c) => (c.params["clients"] ?? "").split(/\s*,\s*/).filter(Boolean).map((clientAddress) => ({ path, clientAddress, options: optionsOf(c) })));
    });
}

function optionsOf(client: GaneshaBlock): string[] {
  const access = (client.params["access_type"] ?? "None").toUpperCase();
  const squash = (client.params["squash"] ?? "Root_Squash").toLowerCase();
  const opts = [access === "RW" ? "rw" : access === "RO" ? "ro" : "none"];
  opts.push(squash === "no_root_squash" || squash === "none" ? "no_root_squash" : squash === "all_squash" ? "all_squash" : "root_squash");
  return opts;
}
