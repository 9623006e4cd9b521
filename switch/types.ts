/**
 * Data shapes of the switch module: the config slice it is built from, the desired per-port state the lead's
 * plan hands in, and the observed state read back over SNMP. Plain data only.
 */

/** The SNMP agent port when the config names none. */
export const SNMP_PORT = 161;

/** SNMP credentials: v2c community, or v3 authPriv (secrets never logged). */
export type SnmpCredentials =
  | { readonly version: "2c"; readonly community: string }
  | {
      readonly version: "3";
      readonly user: string;
      readonly authProtocol?: "sha" | "sha224" | "sha256" | "sha384" | "sha512" | "md5";
      readonly authKey: string;
      readonly privProtocol?: "aes" | "aes256b" | "aes256r" | "des";
      readonly privKey: string;
    };

/** The `switch:` slice of rack.yaml (DESIGN.md §5) plus optional tuning the lead may expose. */
export interface SwitchConfig {
  readonly driver: "qbridge" | "none";
  readonly host: string;
  readonly port?: number;
  readonly snmp: SnmpCredentials;
  readonly poe: boolean;
  /** Vendor profile; "auto" picks by sysObjectID. */
  readonly profile?: "auto" | VendorProfileName;
  /** Per-attempt timeout of reads (default 2000 ms) and of SETs (default 5000 ms, PoE SETs are slow). */
  readonly timeoutMs?: number;
  readonly setTimeoutMs?: number;
  /** Attempts after the first one on a timeout (default 2), with doubling pauses from `backoffMs` (200). */
  readonly retries?: number;
  readonly backoffMs?: number;
}

/** Names of the vendor profiles in `profiles.ts`. */
export type VendorProfileName = "generic" | "procurve" | "netgear";

/** How one switch port should look. Ports are bridge port numbers (dot1dBasePort, the panel number on most switches). */
export interface DesiredPort {
  readonly port: number;
  /** VLAN the port egresses untagged; null = none; undefined = leave as found. */
  readonly untaggedVlan?: number | null;
  /** VLANs the port is a tagged member of. */
  readonly taggedVlans: readonly number[];
  /** Ingress VLAN; default `untaggedVlan` when that is a number, else left as found. */
  readonly pvid?: number;
  /** PoE power; undefined leaves it alone. */
  readonly poe?: boolean;
  /** "remove": the port leaves every VLAN not named here (Pi ports); "keep": other memberships stay (uplink). */
  readonly otherVlans: "remove" | "keep";
}

/** The whole desired switch state: ports pirack owns and names for VLANs it may create. */
export interface DesiredSwitchState {
  readonly ports: readonly DesiredPort[];
  readonly vlanNames?: Readonly<Record<number, string>>;
}

/** One row of the port map built at discovery: the three numberings of one port. */
export interface PortInfo {
  readonly bridgePort: number;
  readonly ifIndex: number;
  readonly ifName: string;
  readonly poe: { readonly group: number; readonly port: number } | null;
}

/** What discovery learned about a switch. */
export interface Inventory {
  readonly sysDescr: string;
  readonly sysObjectId: string;
  readonly profile: VendorProfileName;
  readonly ports: readonly PortInfo[];
  /** PortList length used by the static VLAN table (bytes kept as read). */
  readonly portListOctets: number;
  /** Why PoE cannot be used (no PoE table, ambiguous map), or null when it can. */
  readonly poeProblem: string | null;
}

/** One static VLAN as read. */
export interface ObservedVlan {
  readonly name: string;
  readonly egress: Buffer;
  readonly untagged: Buffer;
  readonly rowStatus: number;
}

/** PoE state of one port. */
export interface PoePortStatus {
  readonly port: number;
  readonly adminOn: boolean;
  /** pethPsePortDetectionStatus name: disabled, searching, deliveringPower, fault, ... */
  readonly detection: string;
  /** IEEE class 0-4 while delivering power, else null. */
  readonly powerClass: number | null;
  /** Per-port watts where a vendor MIB reports them, else null. */
  readonly watts: number | null;
}

/** Main PSE budget and consumption in watts. */
export interface PsePower {
  readonly budgetWatts: number | null;
  readonly consumptionWatts: number | null;
  readonly operStatus: "on" | "off" | "faulty" | "unknown";
}

/** Everything observed on the switch in one read. */
export interface ObservedSwitch {
  readonly vlans: ReadonlyMap<number, ObservedVlan>;
  readonly pvid: ReadonlyMap<number, number | null>;
  readonly linkUp: ReadonlyMap<number, boolean>;
  readonly poe: ReadonlyMap<number, PoePortStatus>;
  readonly pse: PsePower | null;
}

/** A change the planner decided on, describable in words. */
export type SwitchChange =
  | { readonly kind: "createVlan"; readonly vid: number; readonly name: string }
  | { readonly kind: "activateVlan"; readonly vid: number }
  | { readonly kind: "join"; readonly port: number; readonly vid: number; readonly tagged: boolean }
  | { readonly kind: "leave"; readonly port: number; readonly vid: number }
  | { readonly kind: "pvid"; readonly port: number; readonly from: number | null; readonly to: number }
  | { readonly kind: "poe"; readonly port: number; readonly on: boolean };

/** What `apply` did. */
export interface ApplyResult {
  readonly changes: readonly SwitchChange[];
  /** SET PDUs sent (0 on a switch already in the desired state). */
  readonly setRequests: number;
  /** Write rounds, each verified by a read-back (0: nothing to do; 1 normally; more when a SET did not stick). */
  readonly rounds: number;
  /** True when the one-PDU SET was refused and the stepwise order was used. */
  readonly usedStepwise: boolean;
}

/** A forwarding-database entry (learned MAC). */
export interface FdbEntry {
  readonly mac: string;
  readonly vlan: number | null;
  readonly port: number;
  readonly ifIndex: number | null;
}

/** Power actions. */
export type PowerAction = "on" | "off" | "cycle";

/** One observed step of a power action, in order. */
export interface PowerStep {
  readonly atMs: number;
  readonly step: "poeOff" | "linkDown" | "poeOn" | "deliveringPower" | "linkUp";
}

/** Link/PoE change events from traps and polling. */
export type SwitchEvent =
  | { readonly kind: "link"; readonly port: number; readonly up: boolean; readonly source: "trap" | "poll" }
  | { readonly kind: "poe"; readonly port: number; readonly detection: string; readonly source: "poll" };
