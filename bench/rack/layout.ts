/**
 * The bench rack's layout (pure): per-run names, which Pi sits on which switch port, its model, MAC, serial,
 * addresses, and the switch's shape. Everything the builder creates is named from here, so a later run can
 * recognise (by prefix and pid) what an earlier, crashed run left behind.
 */
import { formatIpv4, parseIpv4 } from "../../lib/net/ipv4.ts";
import { compressionOf, formatIpv6, parseIpv6 } from "../../lib/net/ipv6.ts";

/** Pi models the protocol Pis emulate (bench/pi). */
export const PI_MODELS = ["3b", "3b+", "4", "5"] as const;
/** One of the emulated models. */
export type BenchPiModel = (typeof PI_MODELS)[number];

/** Namespace and run-directory prefix; the bench's pid follows it. */
export const RUN_PREFIX = "pirack-bench-";

/** The largest shelf the bench builds (VLANs 200..399, a /22 of /30s). */
export const MAX_PIS = 200;

/** One Pi of the bench. */
export interface BenchPi {
  readonly port: number;
  readonly kind: "protocol" | "qemu";
  readonly model: BenchPiModel;
  readonly mac: string;
  /** 8 hex digits, the board serial (its TFTP folder). */
  readonly serial: string;
  readonly vlan: number;
  readonly namespace: string;
  readonly piAddress: string;
  readonly serverAddress: string;
  readonly publicAddress: string;
}

/**
 * A node of the site that is no Pi: the db or the cdn of `--site`, Debian's own daemon run on the host in a
 * namespace of its own, wired straight onto the public VLAN (an access port of it, like the upstream router).
 * It still has a switch port in pirack's rack config, because pirack plans every role node from `pis:`.
 */
export interface SiteStandIn {
  readonly port: number;
  readonly role: "db" | "cdn";
  readonly name: string;
  readonly namespace: string;
  readonly publicAddress: string;
  /** The port's storage VLAN and the fileserver's end of its /30 (pirack serves DHCP there; nothing asks). */
  readonly vlan: number;
  readonly serverAddress: string;
}

/** The site of `--site`: every QEMU Pi a web Pi, one db and one cdn stand-in on the ports after the shelf. */
export interface BenchSite {
  readonly url: string;
  /** The Host header every request carries. */
  readonly host: string;
  readonly webPorts: readonly number[];
  readonly db: SiteStandIn;
  readonly cdn: SiteStandIn;
}

/** The site's URL on the bench (never resolved: requests carry its host name in `Host:`). */
export const BENCH_SITE_URL = "http://www.bench.pirack.test";

/** The whole bench rack. */
export interface BenchLayout {
  readonly runName: string;
  readonly namespaces: { readonly fileserver: string; readonly switch: string; readonly public: string };
  readonly storageNetwork: string;
  readonly firstVlan: number;
  readonly public: { readonly vlan: number; readonly prefix: string; readonly gateway: string; readonly firstAddress: string };
  /** Simulated switch: number of ports, the fileserver's trunk port, its profile. */
  readonly switch: { readonly ports: number; readonly fileserverPort: number; readonly profile: "procurve" | "generic" };
  /** The switch's management address (SNMP agent) and the fileserver's address on that link. */
  readonly management: { readonly switchAddress: string; readonly fileserverCidr: string };
  readonly pis: readonly BenchPi[];
  /** With `--site`: the site's role nodes. */
  readonly site?: BenchSite;
}

/** What the operator asked for. */
export interface BenchShape {
  readonly pis: number;
  readonly qemu: number;
  /** Models of the protocol Pis, cycled over their ports. */
  readonly models: readonly BenchPiModel[];
  readonly pid: number;
  /** `--site`: the QEMU Pis are web Pis; a db and a cdn stand-in join the public VLAN. */
  readonly site?: boolean;
}

/** Raspberry Pi Foundation / Trading OUIs by model (reference/pi-netboot.md). */
const OUI: Record<BenchPiModel, string> = { "3b": "b8:27:eb", "3b+": "b8:27:eb", "4": "dc:a6:32", "5": "d8:3a:dd" };

const hex = (n: number, digits: number): string => n.toString(16).padStart(digits, "0");

/** Parses `--models 3b,4,5`; throws with the bad value. */
export function parseModels(text: string): BenchPiModel[] {
  const models = text.split(",").map((m) => m.trim()).filter(Boolean);
  const bad = models.filter((m) => !(PI_MODELS as readonly string[]).includes(m));
  if (bad.length > 0 || models.length === 0) throw new RangeError(`--models expects a list of ${PI_MODELS.join(", ")}, got "${text}"`);
  return models as BenchPiModel[];
}

/** Checks the shape; returns every problem. */
export function shapeProblems(shape: BenchShape): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(shape.pis) || shape.pis < 1 || shape.pis > MAX_PIS) problems.push(`--pis must be 1-${MAX_PIS}, got ${shape.pis}`);
  if (!Number.isInteger(shape.qemu) || shape.qemu < 0 || shape.qemu > shape.pis) problems.push(`--qemu must be 0-${shape.pis} (at most --pis), got ${shape.qemu}`);
  if (shape.site && shape.qemu < 1) problems.push("--site needs at least one QEMU Pi (--qemu 1): the web Pis are QEMU Pis");
  // The db and cdn stand-ins take the two ports after the shelf, and the fileserver keeps port 24.
  if (shape.site && shape.pis > 21) problems.push(`--site takes the two switch ports after the shelf: --pis must be at most 21, got ${shape.pis}`);
  return problems;
}

/** The bench layout for a shape: QEMU Pis on the first ports, protocol Pis (models cycled) after them. */
export function benchLayout(shape: BenchShape): BenchLayout {
  const runName = `${RUN_PREFIX}${shape.pid}`;
  // Up to 120 Pis keep the story's numbers (VLAN 10.., 10.46.189.0/24 for 64); above, VLANs start at 200 so
  // they stay clear of the public VLAN 131, as examples/shelf-96.yaml does.
  const firstVlan = shape.pis <= 120 ? 10 : 200;
  const storageNetwork = shape.pis <= 64 ? "10.46.189.0/24" : "10.46.188.0/22";
  const base = parseIpv4(storageNetwork.split("/")[0] ?? "") ?? 0;
  const pub = { vlan: 131, prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" };
  const first = parseIpv6(pub.firstAddress) ?? 0n;
  const style = compressionOf(pub.firstAddress);
  // A 24-port ProCurve (the story's switch) while the shelf fits; a generic switch one port larger otherwise.
  const fileserverPort = shape.pis + (shape.site ? 2 : 0) <= 23 ? 24 : shape.pis + 1;
  const pis: BenchPi[] = [];
  for (let port = 1; port <= shape.pis; port++) {
    const kind = port <= shape.qemu ? "qemu" : "protocol";
    const model: BenchPiModel = kind === "qemu" ? "4" : (shape.models[(port - shape.qemu - 1) % shape.models.length] ?? "4");
    const slot = base + 4 * (port - 1);
    pis.push({
      port,
      kind,
      model,
      // The low 24 bits of a Pi's MAC are its serial's (Pi 3 family convention), so MAC and serial agree.
      mac: `${OUI[model]}:be:${hex(port >> 8, 2)}:${hex(port & 0xff, 2)}`,
      serial: `b0be${hex(port, 4)}`,
      vlan: firstVlan + port - 1,
      namespace: `${runName}-pi${port}`,
      piAddress: formatIpv4(slot + 2),
      serverAddress: formatIpv4(slot + 1),
      publicAddress: formatIpv6(first + BigInt(port - 1), style),
    });
  }
  const standIn = (port: number, role: "db" | "cdn"): SiteStandIn => ({
    port,
    role,
    name: `bench-${role}`,
    namespace: `${runName}-${role}`,
    publicAddress: formatIpv6(first + BigInt(port - 1), style),
    vlan: firstVlan + port - 1,
    serverAddress: formatIpv4(base + 4 * (port - 1) + 1),
  });
  const site: BenchSite | undefined = shape.site
    ? { url: BENCH_SITE_URL, host: new URL(BENCH_SITE_URL).hostname, webPorts: pis.filter((p) => p.kind === "qemu").map((p) => p.port), db: standIn(shape.pis + 1, "db"), cdn: standIn(shape.pis + 2, "cdn") }
    : undefined;
  return {
    runName,
    namespaces: { fileserver: `${runName}-fs`, switch: `${runName}-sw`, public: `${runName}-pub` },
    storageNetwork,
    firstVlan,
    public: pub,
    switch: { ports: fileserverPort, fileserverPort, profile: fileserverPort === 24 ? "procurve" : "generic" },
    // TEST-NET-1 (RFC 5737), DESIGN.md's example switch address; a /30 of its own, never routed anywhere.
    // A management /30 of its own, inside the bench namespaces only (a documentation address would be refused
    // by pirack as a placeholder switch host, appliance/switch-address.ts).
    management: { switchAddress: "100.64.255.10", fileserverCidr: "100.64.255.9/30" },
    pis,
    ...(site ? { site } : {}),
  };
}

/** The pid a run name or namespace name carries, or undefined when it is not the bench's. */
export function pidOfRunName(name: string): number | undefined {
  const m = new RegExp(`^${RUN_PREFIX}(\\d+)(?:-|$)`).exec(name);
  return m ? Number(m[1]) : undefined;
}
