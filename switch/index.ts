/**
 * Public surface of the switch module: a driver factory from the `switch:` config slice, the desired-state
 * helpers, and the link/PoE monitor. The simulator has
 * its own entry, `switch/sim/index.ts`.
 */
import { OperationError } from "../lib/errors.ts";
import { QBridgeSwitch, type SwitchDriver, type SwitchDriverDeps } from "./driver.ts";
import type { SwitchConfig } from "./types.ts";

export type { SwitchDriver, SwitchDriverDeps, PowerOptions, PoeReport } from "./driver.ts";
export { QBridgeSwitch } from "./driver.ts";
export { SwitchMonitor, type SwitchMonitorOptions, type TrapListenOptions } from "./events.ts";
export { describeChange, planSwitch, rackSwitchState, withoutUnmanagedPoe, type SwitchPlan } from "./plan.ts";
export { SnmpError } from "./snmp-client.ts";
export { SNMP_PORT } from "./types.ts";
export { renderApplyResult, renderSwitchShow, switchShowRows, type SwitchShowRow } from "./show.ts";
export { vendorProfiles, unsupportedSwitches } from "./profiles.ts";
export type * from "./types.ts";

/** Builds the driver for `config`, or null for `driver: none` (manage nothing on the switch). */
export function createSwitchDriver(config: SwitchConfig, deps: SwitchDriverDeps): SwitchDriver | null {
  if (config.driver === "none") return null;
  if (config.driver !== "qbridge") throw new OperationError("SWITCH_UNKNOWN_DRIVER", `switch driver ${JSON.stringify(config.driver)} is not one of qbridge, none`);
  return new QBridgeSwitch(config, deps);
}
