/**
 * The planner: validated config + learned Pi identities -> desired state of every port. Pure, no I/O.
 * Port p gets VLAN firstVlan + p - 1, the (p-1)th /30 of storage.network and public firstAddress + (p - 1) (DESIGN.md §1).
 */
import type { Config, PiConfig } from "./config.ts";
import { formatIpv4, prefixMask } from "../lib/net/ipv4.ts";
import { compressionOf, formatIpv6, parseIpv6, parseIpv6Prefix } from "../lib/net/ipv6.ts";
import { rackSwitchState } from "../switch/plan.ts";
import type { DesiredSwitchState } from "../switch/types.ts";
import { renderExportsFile, renderExportsLine } from "./nfs-exports/exports-file.ts";
import { renderCmdline, renderConfigTxt, renderPublicInterface, renderStorageInterface } from "../lib/render.ts";
import {
  describeRendered,
  placeholderSecrets,
  renderCluster,
  requiredSecrets,
  roleImageName,
  ROLES,
  type Cluster,
  type RenderedFile,
  type RoleName,
  type Secrets,
  uploadsShares,
} from "../workloads/index.ts";

/** A Pi model as the DHCP layer names it from option 97 and the MAC ("3B", "3B+", "4B", "5", "3-family", ...). */
export type PiModel = string;

/** What the appliance learned about the Pi on a port (DHCP option 97, MAC, TFTP serial folder). */
export interface LearnedPi {
  readonly port: number;
  readonly mac?: string;
  readonly serial?: string;
  readonly model?: PiModel;
}

/** Everything desired for one switch port holding a Pi. */
export interface PortPlan {
  readonly port: number;
  readonly name: string;
  readonly role: PiConfig["role"];
  /** Listed under `pis:` or learned: gets a root and an export. */
  readonly enrolled: boolean;
  readonly mac?: string;
  readonly serial?: string;
  readonly model?: PiModel;
  readonly vlan: number;
  /** The fileserver's interface for this storage VLAN, e.g. `eth0.10`. */
  readonly interfaceName: string;
  readonly network: string;
  readonly serverAddress: string;
  readonly piAddress: string;
  readonly broadcast: string;
  readonly netmask: string;
  readonly prefixLength: 30;
  readonly publicInterface: string;
  readonly publicAddress: string;
  readonly publicPrefixLength: number;
  readonly publicGateway: string;
  /** The Pi's NFS root on the fileserver, e.g. `/export/10.46.189.2`. */
  readonly exportPath: string;
  readonly files: {
    /** Fileserver: `/etc/network/interfaces.d/<interfaceName>`. */
    readonly storageInterface: string;
    readonly cmdline: string;
    readonly configTxt: string;
    /** Pi root: `/etc/hostname`. */
    readonly hostname: string;
    /** Pi root: `/etc/network/interfaces.d/<publicInterface>`. */
    readonly publicInterface: string;
    readonly exportLine: string;
  };
}

/** The whole rack's desired state. */
export interface RackPlan {
  readonly shelf: string;
  readonly fileserverInterface: string;
  readonly ports: readonly PortPlan[];
  /** Desired switch state: each Pi port untagged in its storage VLAN (PVID too) and tagged in the public VLAN,
   * PoE on when `switch.poe`; the fileserver's trunk tagged in every storage VLAN (the story's port 24). */
  readonly switchState: DesiredSwitchState;
  /** `/etc/exports.d/pirack.exports`: enrolled Pis only. */
  readonly exportsFile: string;
  /** The role nodes and every workload file of their roots (secrets as placeholders unless given). */
  readonly workloads: WorkloadsPlan;
}

/** The workloads part of the plan. */
export interface WorkloadsPlan {
  readonly cluster: Cluster;
  /** Golden image variant each role node is cloned from, by node name (`bookworm-arm64+web`). */
  readonly images: Readonly<Record<string, string>>;
  /** Files inside each role node's root, by node name. */
  readonly files: Readonly<Record<string, readonly RenderedFile[]>>;
  /** Fileserver shares the roles mount (the web uploads), one exports line per client. */
  readonly shares: readonly { readonly path: string; readonly clientAddress: string; readonly options: readonly string[] }[];
}

/** The role nodes of the rack (Pis with a role other than none), in port order. */
export function planCluster(config: Config, ports: readonly PortPlan[]): Cluster {
  return {
    exportsDir: config.paths.exports,
    nodes: ports
      .filter((p) => p.role !== "none")
      .map((p) => ({ name: p.name, port: p.port, role: p.role as RoleName, publicAddress: p.publicAddress, storageAddress: p.piAddress, serverAddress: p.serverAddress })),
  };
}

/** Renders every role node's workload files; `secrets` default to placeholders (`pirack plan` never reads the real ones). */
export function planWorkloads(config: Config, ports: readonly PortPlan[], secrets?: Secrets): WorkloadsPlan {
  const cluster = planCluster(config, ports);
  const values = secrets ?? placeholderSecrets(requiredSecrets(cluster, ROLES));
  const files = renderCluster(cluster, config.workloads, values, ROLES);
  return {
    cluster,
    images: Object.fromEntries(cluster.nodes.map((n) => [n.name, roleImageName(config.image, n.role)])),
    files: Object.fromEntries(files),
    shares: uploadsShares(cluster, config.workloads.site.name),
  };
}

/** A /30 inside the storage network: network, fileserver (+1), Pi (+2), broadcast (+3). */
export function storageSlot(config: Config, port: number) {
  const base = config.storagePrefix.network + (port - 1) * 4;
  return {
    network: formatIpv4(base),
    serverAddress: formatIpv4(base + 1),
    piAddress: formatIpv4(base + 2),
    broadcast: formatIpv4(base + 3),
    netmask: formatIpv4(prefixMask(30)),
  };
}

/** Default host name of the Pi on a port when `pis:` names none: `<shelf>-<port, two digits>`. */
export const defaultPiName = (shelf: string, port: number): string => `${shelf}-${String(port).padStart(2, "0")}`;

/** What every port's plan shares, worked out once per rack (not once per port: a rack may have 4,000). */
interface RackContext {
  readonly listed: ReadonlyMap<number, PiConfig>;
  readonly firstPublic: bigint;
  readonly publicStyle: ReturnType<typeof compressionOf>;
  readonly publicPrefixLength: number;
}

function rackContext(config: Config): RackContext {
  return {
    listed: new Map(config.pis.map((p) => [p.port, p])),
    firstPublic: parseIpv6(config.public.firstAddress)!,
    publicStyle: compressionOf(config.public.firstAddress),
    publicPrefixLength: (parseIpv6Prefix(config.public.prefix) as { length: number }).length,
  };
}

/** Plans one port. */
export function planPort(config: Config, port: number, learned?: LearnedPi, rack: RackContext = rackContext(config)): PortPlan {
  const listed = rack.listed.get(port);
  const slot = storageSlot(config, port);
  const vlan = config.storage.firstVlan + port - 1;
  const interfaceName = `${config.fileserver.interface}.${vlan}`;
  const publicAddress = formatIpv6(rack.firstPublic + BigInt(port - 1), rack.publicStyle);
  const publicPrefixLength = rack.publicPrefixLength;
  const publicInterface = `eth0.${config.public.vlan}`;
  const name = listed?.name ?? defaultPiName(config.shelf, port);
  const exportPath = `${config.paths.exports.replace(/\/+$/, "")}/${slot.piAddress}`;
  const serial = listed?.serial ?? learned?.serial;
  const mac = listed?.mac ?? learned?.mac;
  return {
    port,
    name,
    role: listed?.role ?? "none",
    enrolled: listed !== undefined || (config.enrol === "auto" && learned !== undefined),
    ...(mac ? { mac } : {}),
    ...(serial ? { serial } : {}),
    ...(learned?.model ? { model: learned.model } : {}),
    vlan,
    interfaceName,
    ...slot,
    prefixLength: 30,
    publicInterface,
    publicAddress,
    publicPrefixLength,
    publicGateway: config.public.gateway,
    exportPath,
    files: {
      storageInterface:
        `# generated by pirack: storage VLAN ${vlan} for switch port ${port} (${name}); edits are overwritten\n` +
        renderStorageInterface({ interfaceName, serverAddress: slot.serverAddress, netmask: slot.netmask }),
      cmdline: renderCmdline({
        baseCmdline: config.boot.cmdline,
        piAddress: slot.piAddress,
        serverAddress: slot.serverAddress,
        netmask: slot.netmask,
        exportPath,
        nfsOptions: config.boot.nfsOptions,
      }),
      configTxt: renderConfigTxt({ hostname: name, port, arm64: /arm64|aarch64/.test(config.image) }),
      hostname: `${name}\n`,
      publicInterface: renderPublicInterface({
        interfaceName: publicInterface,
        address: publicAddress,
        prefixLength: publicPrefixLength,
        gateway: config.public.gateway,
      }),
      exportLine: renderExportsLine({ path: exportPath, clientAddress: slot.piAddress }),
    },
  };
}

/** Plans the whole rack from config and what has been learned about Pis (by port). */
export function planRack(config: Config, learned: ReadonlyMap<number, LearnedPi> = new Map()): RackPlan {
  const rack = rackContext(config);
  const ports = config.ports.map((p) => planPort(config, p, learned.get(p), rack));
  const workloads = planWorkloads(config, ports);
  const switchState = rackSwitchState({
    piPorts: ports.map((p) => ({ port: p.port, vlan: p.vlan, ...(config.switch.poe ? { poe: true } : {}) })),
    publicVlan: config.public.vlan,
    uplinkPort: config.fileserver.switchPort,
    vlanNamePrefix: config.shelf,
  });
  return {
    shelf: config.shelf,
    fileserverInterface: config.fileserver.interface,
    ports,
    switchState,
    exportsFile: renderExportsFile([...ports.filter((p) => p.enrolled).map((p) => ({ path: p.exportPath, clientAddress: p.piAddress })), ...workloads.shares]),
    workloads,
  };
}

/** The plan as relative file paths and contents, the layout of `pirack plan --out` (DESIGN.md §5). */
export function planFiles(plan: RackPlan): Map<string, string> {
  const files = new Map<string, string>();
  for (const p of plan.ports) {
    files.set(`fileserver/etc/network/interfaces.d/${p.interfaceName}`, p.files.storageInterface);
    files.set(`pis/${p.name}/boot/cmdline.txt`, p.files.cmdline);
    files.set(`pis/${p.name}/boot/config.txt`, p.files.configTxt);
    files.set(`pis/${p.name}/root/etc/hostname`, p.files.hostname);
    files.set(`pis/${p.name}/root/etc/network/interfaces.d/${p.publicInterface}`, p.files.publicInterface);
    for (const f of plan.workloads.files[p.name] ?? []) files.set(`pis/${p.name}/root/${f.path}`, describeRendered(f));
  }
  files.set("fileserver/etc/exports.d/pirack.exports", plan.exportsFile);
  files.set("switch/ports.json", `${JSON.stringify(plan.switchState, null, 2)}\n`);
  files.set("plan.json", `${JSON.stringify(plan, null, 2)}\n`);
  return files;
}
