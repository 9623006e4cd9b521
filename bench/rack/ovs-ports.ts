/**
 * How the simulated switch's Q-BRIDGE state becomes Open vSwitch port settings (pure). The OVS bridge is the
 * bench's wiring: each Pi's cable is one OVS port that follows that switch port's untagged VLAN, PVID and tagged
 * VLANs; each fileserver `eth0.N` veth is an OVS access port for VLAN N that carries traffic only while the
 * fileserver's trunk port is tagged in N (it stands in for the kernel's 802.1Q device this machine lacks).
 */

/** One switch port's VLAN membership as the simulator holds it. */
export interface PortVlans {
  readonly port: number;
  readonly pvid: number;
  /** VLANs the port is an untagged egress member of. */
  readonly untagged: readonly number[];
  /** VLANs the port is a tagged egress member of. */
  readonly tagged: readonly number[];
}

/** The OVS `Port` columns the bench sets. */
export interface OvsPortSetting {
  readonly vlanMode: "access" | "native-untagged";
  readonly tag: number;
  /** Empty for access ports (the column is cleared). */
  readonly trunks: readonly number[];
}

/**
 * A VLAN no frame of the rack is ever on, one per OVS port so that parked ports cannot reach each other either.
 * Counted down from 4094; the bench's own VLANs stay below 400 (layout.ts).
 */
export const parkingVlan = (index: number): number => 4094 - index;

/**
 * A Pi's port. Untagged frames enter on the PVID and leave untagged only for an untagged member VLAN, so the
 * untagged path works only when the PVID is also an untagged VLAN of the port; otherwise untagged traffic is
 * parked. Tagged VLANs are trunked.
 */
export function piPortSetting(vlans: PortVlans, parking: number): OvsPortSetting {
  const native = vlans.untagged.includes(vlans.pvid) ? vlans.pvid : parking;
  const tagged = [...new Set(vlans.tagged)].filter((v) => v !== native).sort((a, b) => a - b);
  if (tagged.length === 0) return { vlanMode: "access", tag: native, trunks: [] };
  return { vlanMode: "native-untagged", tag: native, trunks: [native, ...tagged] };
}

/**
 * The fileserver's `eth0.<vlan>`: a VLAN device on the fileserver's trunk sees VLAN N frames only when the
 * switch sends them tagged, i.e. when the fileserver's port is a tagged member of N.
 */
export function fileserverVlanSetting(trunk: PortVlans | undefined, vlan: number, parking: number): OvsPortSetting {
  return { vlanMode: "access", tag: trunk?.tagged.includes(vlan) ? vlan : parking, trunks: [] };
}

/** `ovs-vsctl` arguments that set one port (one command of a `--`-joined transaction). */
export function ovsSetPortArgs(name: string, s: OvsPortSetting): string[] {
  const args = ["set", "port", name, `vlan_mode=${s.vlanMode}`, `tag=${s.tag}`];
  if (s.trunks.length > 0) return [...args, `trunks=${s.trunks.join(",")}`];
  return [...args, "--", "clear", "port", name, "trunks"];
}

/** True when two settings are the same. */
export const sameSetting = (a: OvsPortSetting | undefined, b: OvsPortSetting): boolean =>
  a !== undefined && a.vlanMode === b.vlanMode && a.tag === b.tag && a.trunks.join(",") === b.trunks.join(",");

/** The OVS port names of the bench: a Pi's cable, the fileserver's `eth0.N` stand-in, the public uplink. */
export const ovsPortName = {
  pi: (port: number): string => `pi${port}`,
  fileserver: (port: number): string => `fs${port}`,
  public: "pub",
  /** A `--site` stand-in (db, cdn) wired straight onto the public VLAN. */
  standIn: (role: string): string => `site-${role}`,
} as const;

/** Every OVS port's setting for the switch's current VLAN membership (`vlans` as the simulator reports it). */
export function wiringSettings(
  piPorts: readonly { port: number; vlan: number }[],
  fileserverPort: number,
  publicVlan: number,
  vlans: readonly PortVlans[],
  standIns: readonly { port: number; vlan: number; role: string }[] = [],
): { name: string; setting: OvsPortSetting }[] {
  const byPort = new Map(vlans.map((v) => [v.port, v]));
  const none = (port: number): PortVlans => ({ port, pvid: 0, untagged: [], tagged: [] });
  const trunk = byPort.get(fileserverPort);
  return [
    ...piPorts.flatMap((p) => [
      { name: ovsPortName.pi(p.port), setting: piPortSetting(byPort.get(p.port) ?? none(p.port), parkingVlan(2 * (p.port - 1))) },
      { name: ovsPortName.fileserver(p.port), setting: fileserverVlanSetting(trunk, p.vlan, parkingVlan(2 * (p.port - 1) + 1)) },
    ]),
    // The upstream router's port: not a port pirack manages, an access port of the public VLAN.
    { name: ovsPortName.public, setting: { vlanMode: "access", tag: publicVlan, trunks: [] } },
    // `--site`'s db and cdn: hosts on the public VLAN, not behind a managed port (see layout.ts SiteStandIn);
    // their ports' fileserver `eth0.N` exist (pirack serves every port) and follow the trunk as for a Pi.
    ...standIns.flatMap((s) => [
      { name: ovsPortName.standIn(s.role), setting: { vlanMode: "access" as const, tag: publicVlan, trunks: [] } },
      { name: ovsPortName.fileserver(s.port), setting: fileserverVlanSetting(trunk, s.vlan, parkingVlan(2 * (s.port - 1) + 1)) },
    ]),
  ];
}
