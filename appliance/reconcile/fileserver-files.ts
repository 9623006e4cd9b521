/** Desired contents of the fileserver's own generated files, picked out of the rack plan. Pure. */
import type { RackPlan } from "../plan.ts";

/** `/etc/network/interfaces.d/<eth0.N>` for every storage VLAN. */
export function desiredInterfaceFiles(plan: RackPlan): Map<string, string> {
  return new Map(plan.ports.map((p) => [p.interfaceName, p.files.storageInterface]));
}
