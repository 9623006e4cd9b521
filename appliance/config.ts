/**
 * `rack.yaml`: the one schema, every default filled in here and nowhere else, and every cross-field check.
 * `validateConfig` reports every problem at once as `path: message` (DESIGN.md §5 is the contract).
 */
import { z } from "zod";
import { parse as parseYaml } from "yaml";
import { parseIpv4Prefix, prefixSize, type Ipv4Prefix } from "../lib/net/ipv4.ts";
import { ipv6InPrefix, parseIpv6, parseIpv6Prefix } from "../lib/net/ipv6.ts";
import { DEFAULT_DHCP_SETTINGS } from "./dhcpd/policy.ts";
import { DEFAULT_TFTP_OPTIONS } from "./tftpd/defaults.ts";
import { SNMP_PORT } from "../switch/types.ts";
import { capProblems, describeIssue, valueAt, yamlProblem } from "./config-problems.ts";
import { allowedKeysAt } from "./config-keys.ts";
import { checkWorkloads, workloadsSchema } from "../workloads/config.ts";
import { defaultPiName } from "./plan.ts";

/** Highest usable 802.1Q VLAN ID (4095 is reserved, IEEE 802.1Q §9.6). */
export const MAX_VLAN = 4094;

const vlanId = z.number().int().min(1, "VLAN must be 1-4094").max(MAX_VLAN, "VLAN must be 1-4094");
const portNumber = z.number().int().min(1, "switch ports are numbered from 1").max(4096);
const hostName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a host name label: a-z, 0-9 and '-', 1-63 characters");

/** Ports as `"1-8"`, `"1,3,5-7"`, a single number, or a list of numbers. */
const portsSpec = z.union([z.string(), portNumber, z.array(portNumber).min(1, "at least one port")]);

const snmpV2c = z.strictObject({
  version: z.literal("2c"),
  community: z.string().min(1, "community must not be empty"),
});
const snmpV3 = z.strictObject({
  version: z.literal("3"),
  user: z.string().min(1, "user must not be empty"),
  authProtocol: z.enum(["sha", "sha224", "sha256", "sha384", "sha512", "md5"]).default("sha"),
  authKey: z.string().min(8, "authKey needs at least 8 characters (RFC 3414)"),
  privProtocol: z.enum(["aes", "aes256b", "aes256r", "des"]).default("aes"),
  privKey: z.string().min(8, "privKey needs at least 8 characters (RFC 3414)"),
});

const sections = {
  shelf: hostName.default("pirack"),
  fileserver: z
    .strictObject({
      interface: z.string().regex(/^[a-zA-Z0-9_-]{1,10}$/, "must be a network interface name of up to 10 characters").default("eth0"),
      switchPort: portNumber.default(24),
      manageInterfaces: z.boolean().default(true),
    })
    .prefault({}),
  storage: z.strictObject({
    network: z.string(),
    firstVlan: vlanId.default(10),
  }),
  public: z.strictObject({
    vlan: vlanId.default(131),
    prefix: z.string(),
    gateway: z.string(),
    firstAddress: z.string(),
  }),
  ports: portsSpec,
  boot: z
    .strictObject({
      cmdline: z
        .string()
        .refine((s) => !/[\r\n]/.test(s), "must be a single line")
        .default("dwc_otg.lpm_enable=0 console=ttyAMA0,115200 console=tty1 elevator=deadline fsck.repair=yes rootwait"),
      nfsOptions: z.string().regex(/^[^\s,][^\s]*$|^$/, "must be comma-separated options without spaces").default("vers=3,tcp"),
      firmware: z.string().startsWith("/", "must be an absolute path").default("/srv/pirack/firmware"),
      // Beyond DESIGN.md §5: seconds a boot stage may last before the Pi is reported stuck at it.
      stuckAfterS: z.number().int().min(10, "must be at least 10 seconds").max(86_400, "must be at most 86400 seconds (a day)").default(180),
    })
    .prefault({}),
  paths: z
    .strictObject({
      exports: z.string().startsWith("/", "must be an absolute path").default("/export"),
      images: z.string().startsWith("/", "must be an absolute path").default("/srv/pirack/images"),
      state: z.string().startsWith("/", "must be an absolute path").default("/var/lib/pirack"),
    })
    .prefault({}),
  image: z.string().regex(/^[a-zA-Z0-9._-]+$/, "must be a plain image name").default("bookworm-arm64"),
  nfs: z.strictObject({ server: z.enum(["kernel", "ganesha", "none"]).default("kernel") }).prefault({}),
  switch: z
    .strictObject({
      driver: z.enum(["qbridge", "none"]).default("none"),
      host: z.string().min(1).optional(),
      port: z.number().int().min(1).max(65535).default(SNMP_PORT),
      snmp: z.discriminatedUnion("version", [snmpV2c, snmpV3]).optional(),
      poe: z.boolean().default(true),
      // Tuning beyond DESIGN.md §5 (docs in README "Switch"): vendor profile and SNMP timing.
      profile: z.enum(["auto", "generic", "procurve", "netgear"]).default("auto"),
      timeoutMs: z.number().int().min(100).max(60_000).default(2000),
      setTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
      retries: z.number().int().min(0).max(10).default(2),
      backoffMs: z.number().int().min(0).max(60_000).default(200),
    })
    .prefault({}),
  // Beyond DESIGN.md §5: DHCP behaviour switches; the defaults are the DHCP module's own constants.
  dhcp: z
    .strictObject({
      leaseSeconds: z.number().int().min(60).max(0x7fffffff).default(DEFAULT_DHCP_SETTINGS.leaseSeconds),
      sendRouter: z.boolean().default(DEFAULT_DHCP_SETTINGS.sendRouter),
      pxeMenu: z.enum(["dnsmasq", "pi3-padded"]).default(DEFAULT_DHCP_SETTINGS.pxeMenu),
      nonPiClients: z.enum(["answer", "ignore"]).default(DEFAULT_DHCP_SETTINGS.nonPiClients),
      pi3OfferDelayMs: z.number().int().min(0).max(10_000).default(DEFAULT_DHCP_SETTINGS.pi3OfferDelayMs),
      replyAddressing: z.enum(["broadcast", "unicast"]).default(DEFAULT_DHCP_SETTINGS.replyAddressing),
    })
    .prefault({}),
  // Beyond DESIGN.md §5: TFTP limits; the defaults are the TFTP module's own constants.
  tftp: z
    .strictObject({
      // RFC 2348 allows 8..65464; more than the path MTU only fragments.
      maxBlockSize: z.number().int().min(512).max(65_464).default(DEFAULT_TFTP_OPTIONS.maxBlockSize),
      maxWindowSize: z.number().int().min(1).max(65_535).default(DEFAULT_TFTP_OPTIONS.maxWindowSize),
      retransmitTimeoutMs: z.number().int().min(100).max(60_000).default(DEFAULT_TFTP_OPTIONS.retransmitTimeoutMs),
      maxRetransmits: z.number().int().min(0).max(50).default(DEFAULT_TFTP_OPTIONS.maxRetransmits),
      idleTimeoutMs: z.number().int().min(1000).max(600_000).default(DEFAULT_TFTP_OPTIONS.idleTimeoutMs),
      maxTransfers: z.number().int().min(1).max(65_536).default(DEFAULT_TFTP_OPTIONS.maxTransfers),
      maxTransfersPerClient: z.number().int().min(1).max(1024).default(DEFAULT_TFTP_OPTIONS.maxTransfersPerClient),
      unknownClients: z.enum(["deny", "shared"]).default(DEFAULT_TFTP_OPTIONS.unknownClients),
      cacheBytes: z.number().int().min(0).default(DEFAULT_TFTP_OPTIONS.cacheBytes),
      workers: z.number().int().min(0).max(16).default(DEFAULT_TFTP_OPTIONS.workers),
    })
    .prefault({}),
  enrol: z.enum(["auto", "manual"]).default("auto"),
  // DESIGN.md §5: the API's token file (lines "read <token>" / "write <token>"), required off loopback.
  api: z.strictObject({ tokenFile: z.string().startsWith("/", "must be an absolute path").optional() }).prefault({}),
  pis: z
    .array(
      z.strictObject({
        port: portNumber,
        name: hostName.optional(),
        serial: z
          .string()
          .regex(/^[0-9a-f]{8}$/, "must be the 8 lower-case hex digits of the Pi's serial (as in its TFTP folder)")
          .optional(),
        mac: z
          .string()
          .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, "must be a MAC address like b8:27:eb:9b:65:d4")
          .transform((m) => m.toLowerCase())
          .optional(),
        role: z.enum(["web", "db", "cdn", "none"]).default("none"),
      }),
    )
    .default([]),
  // The site the roles serve (workloads/config.ts holds the keys and their defaults; README "Workloads").
  workloads: workloadsSchema,
} as const;

const configSchema = z.strictObject(sections);

type Parsed = z.output<typeof configSchema>;

/** One Pi listed under `pis:`, defaults filled. */
export type PiConfig = Readonly<Parsed["pis"][number]>;

/** The validated rack config: deeply readonly, every default filled, ports normalised to a sorted list. */
export type Config = DeepReadonly<Omit<Parsed, "ports">> & {
  readonly ports: readonly number[];
  /** `storage.network` parsed. */
  readonly storagePrefix: Ipv4Prefix;
};

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The outcome of validation: a usable config, or every problem found as `path: message`. */
export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

const pathText = (path: readonly PropertyKey[]): string =>
  path.length === 0 ? "(top level)" : path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "[");

/** Expands `"1-8"`, `"1,3,5-7"`, `5` or `[1,2]` into ports; returns reasons for what does not parse. */
export function parsePorts(spec: string | number | readonly number[]): { ports: number[]; problems: string[] } {
  if (typeof spec === "number") return { ports: [spec], problems: [] };
  if (Array.isArray(spec)) {
    const seen = new Set<number>();
    const dup = spec.filter((p) => seen.has(p) || !seen.add(p));
    return { ports: [...new Set(spec)].sort((a, b) => a - b), problems: dup.map((p) => `port ${p} is listed twice`) };
  }
  const ports: number[] = [];
  const listed = new Set<number>();
  const problems: string[] = [];
  for (const raw of (spec as string).split(",")) {
    const part = raw.trim();
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) {
      problems.push(`"${part}" is not a port or range like 1-8`);
      continue;
    }
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to < from || to > 4096) {
      problems.push(`"${part}" is not a valid range (ports are 1-4096, low-high)`);
      continue;
    }
    for (let p = from; p <= to; p++) {
      if (listed.has(p)) problems.push(`port ${p} is listed twice`);
      else ports.push(listed.add(p) && p);
    }
  }
  return { ports: ports.sort((a, b) => a - b), problems };
}

/**
 * Validates a parsed YAML document. Sections are checked one by one so that a broken section does not hide
 * the problems of the others; cross-field checks run over every section that parsed.
 */
export function validateConfig(raw: unknown): ConfigResult {
  const problems: string[] = [];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, problems: ["(top level): expected a mapping of config keys"] };
  }
  const input = raw as Record<string, unknown>;
  const parsed: Partial<Record<keyof typeof sections, unknown>> = {};
  for (const key of Object.keys(input)) {
    if (!(key in sections)) problems.push(`${key}: unknown key (expected one of ${Object.keys(sections).join(", ")})`);
  }
  for (const [key, schema] of Object.entries(sections) as [keyof typeof sections, z.ZodType][]) {
    const result = schema.safeParse(input[key]);
    if (result.success) parsed[key] = result.data;
    else {
      for (const issue of result.error.issues) {
        if (issue.code === "unrecognized_keys") {
          // Like the top level: one line per unknown key, naming the keys that are allowed there.
          const allowed = allowedKeysAt(schema, issue.path, input[key]);
          for (const k of issue.keys) problems.push(`${pathText([key, ...issue.path, k])}: unknown key${allowed ? ` (expected one of ${allowed.join(", ")})` : ""}`);
        } else problems.push(`${pathText([key, ...issue.path])}: ${describeIssue(issue, valueAt(input[key], issue.path))}`);
      }
      parsed[key] = salvage(schema, input[key]);
    }
  }
  const cross = checkAcrossSections(parsed as Partial<Parsed>, input);
  problems.push(...cross.problems);
  if (problems.length > 0) return { ok: false, problems };
  const whole = configSchema.parse(parsed);
  return { ok: true, config: deepFreeze({ ...whole, ports: cross.ports, storagePrefix: cross.storagePrefix! }) as Config };
}

/**
 * Keeps the parts of a broken section that are valid on their own (fields of a mapping, items of a list), so the
 * cross-field checks can still report their problems in the same run. Returns undefined when nothing is usable.
 */
function salvage(schema: z.ZodType, value: unknown): unknown {
  let inner = schema as z.ZodType;
  while (["prefault", "default", "optional"].includes(inner._zod.def.type)) {
    inner = (inner._zod.def as unknown as { innerType: z.ZodType }).innerType;
  }
  if (inner instanceof z.ZodObject && typeof value === "object" && value !== null && !Array.isArray(value)) {
    const kept: Record<string, unknown> = {};
    for (const [field, fieldSchema] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
      const r = fieldSchema.safeParse((value as Record<string, unknown>)[field]);
      if (r.success) kept[field] = r.data;
    }
    return kept;
  }
  if (inner instanceof z.ZodArray && Array.isArray(value)) {
    const items: unknown[] = [];
    value.forEach((item, i) => {
      const r = (inner as z.ZodArray<z.ZodType>).element.safeParse(item);
      if (r.success) items[i] = r.data;
      else {
        const partial = salvage((inner as z.ZodArray<z.ZodType>).element, item);
        if (partial !== undefined) items[i] = partial;
      }
    });
    return items;
  }
  return undefined;
}

/** Checks that span sections: address arithmetic, collisions, uniqueness, credentials. */
function checkAcrossSections(c: Partial<Parsed>, raw: Record<string, unknown>): { problems: string[]; ports: number[]; storagePrefix?: Ipv4Prefix } {
  const problems: string[] = [];
  let ports: number[] = [];
  if (c.ports !== undefined) {
    const r = parsePorts(c.ports);
    ports = r.ports;
    problems.push(...r.problems.map((p) => `ports: ${p}`));
  }
  // parsePorts returns the ports sorted: the last is the highest. A set answers "is port p listed" in O(1).
  const maxPort = ports.at(-1) ?? 0;
  const portSet = new Set(ports);

  if (c.fileserver && portSet.has(c.fileserver.switchPort)) {
    problems.push(`ports: port ${c.fileserver.switchPort} is the fileserver's trunk port (fileserver.switchPort)`);
  }

  let storagePrefix: Ipv4Prefix | undefined;
  if (c.storage) {
    const prefix = parseIpv4Prefix(c.storage.network);
    if (typeof prefix === "string") problems.push(`storage.network: ${prefix}`);
    else {
      storagePrefix = prefix;
      const slots = prefixSize(prefix) / 4;
      if (maxPort > slots) {
        const needed = 32 - Math.ceil(Math.log2(maxPort * 4));
        problems.push(
          `storage.network: ${c.storage.network} holds ${slots} /30 networks but port ${maxPort} needs the ${maxPort}th; use a /${needed} or larger`,
        );
      }
    }
    const lastVlan = c.storage.firstVlan + maxPort - 1;
    if (maxPort > 0 && lastVlan > MAX_VLAN) {
      problems.push(`storage.firstVlan: port ${maxPort} would get VLAN ${lastVlan}, above ${MAX_VLAN}`);
    }
    if (c.public && ports.some((p) => c.storage!.firstVlan + p - 1 === c.public!.vlan)) {
      const port = ports.find((p) => c.storage!.firstVlan + p - 1 === c.public!.vlan);
      problems.push(`public.vlan: VLAN ${c.public.vlan} is also the storage VLAN of port ${port} (storage.firstVlan ${c.storage.firstVlan})`);
    }
  }

  if (c.public) problems.push(...checkPublic(c.public, maxPort));

  if (c.pis) {
    const seen = { port: new Map<number, number>(), name: new Map<string, number>(), serial: new Map<string, number>(), mac: new Map<string, number>() };
    c.pis.forEach((pi, i) => {
      if (ports.length && !portSet.has(pi.port)) problems.push(`pis[${i}].port: port ${pi.port} is not in ports`);
      for (const key of ["port", "name", "serial", "mac"] as const) {
        const value = pi[key];
        if (value === undefined) continue;
        const map = seen[key] as Map<typeof value, number>;
        const first = map.get(value);
        if (first !== undefined) problems.push(`pis[${i}].${key}: ${value} is already used by pis[${first}]`);
        else map.set(value, i);
      }
    });
  }

  if (c.pis) {
    const shelf = c.shelf ?? "pirack";
    const named = c.pis.flatMap((pi, index) => (pi?.port === undefined ? [] : [{ index, name: pi.name ?? defaultPiName(shelf, pi.port), role: pi.role ?? "none" }]));
    problems.push(...checkWorkloads(c.workloads, named));
  }

  if (c.switch && c.switch.driver !== "none") {
    if (!c.switch.host) problems.push(`switch.host: is required when switch.driver is ${c.switch.driver}`);
    const rawSnmp = (raw.switch as Record<string, unknown> | undefined)?.snmp;
    // A present but broken snmp block has its own problems listed already.
    if (!c.switch.snmp && rawSnmp === undefined) problems.push(`switch.snmp: credentials are required when switch.driver is ${c.switch.driver}`);
  }
  return { problems, ports, ...(storagePrefix ? { storagePrefix } : {}) };
}

function checkPublic(p: Parsed["public"], maxPort: number): string[] {
  const problems: string[] = [];
  const prefix = parseIpv6Prefix(p.prefix);
  if (typeof prefix === "string") {
    problems.push(`public.prefix: ${prefix}`);
    return problems;
  }
  const gateway = parseIpv6(p.gateway);
  if (gateway === undefined) problems.push(`public.gateway: "${p.gateway}" is not an IPv6 address`);
  else if (!ipv6InPrefix(gateway, prefix)) problems.push(`public.gateway: ${p.gateway} is outside ${p.prefix}`);
  const first = parseIpv6(p.firstAddress);
  if (first === undefined) problems.push(`public.firstAddress: "${p.firstAddress}" is not an IPv6 address`);
  else if (!ipv6InPrefix(first, prefix)) problems.push(`public.firstAddress: ${p.firstAddress} is outside ${p.prefix}`);
  else if (maxPort > 0 && !ipv6InPrefix(first + BigInt(maxPort - 1), prefix)) {
    problems.push(`public.firstAddress: port ${maxPort}'s address would fall outside ${p.prefix}`);
  }
  return problems;
}

/** A config that crossed a thread boundary (structured clone drops freezing): frozen again, otherwise as validated. */
export function reviveConfig(config: Config): Config {
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Parses YAML text and validates it. Every failure of the YAML library is a listed problem, never an exception:
 * syntax errors with line and column, an alias to an undefined anchor, more aliases than `maxAliasCount` (a
 * "billion laughs" document), and anything else it throws.
 */
export function parseConfigText(text: string): ConfigResult {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, problems: [yamlProblem(err, text)] };
  }
  try {
    return capProblems(validateConfig(raw ?? {}));
  } catch (err) {
    // Validation is meant to list problems, not throw; should a document still make it throw, that is one more.
    return { ok: false, problems: [`(top level): cannot be validated (${err instanceof Error ? err.message : String(err)})`] };
  }
}
