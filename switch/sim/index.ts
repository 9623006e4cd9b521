/**
 * Public surface of the switch simulator: a real SNMP agent with Q-BRIDGE and PoE state, for tests and the
 * bench. Test and bench equipment only: the daemon never imports it.
 */
export { SimulatedSwitch, type SimSwitchOptions, type SimTrapTarget, type SimV3User } from "./agent.ts";
export { simPiMac, type SimDevice, type SimEvent } from "./model.ts";
export type { SimProfile, SimProfileName } from "./profiles.ts";
