/** Public surface of the DHCP server for Pi netboot on per-VLAN interfaces. */
export { DhcpServer, type DhcpServerDeps } from "./server.ts";
export { systemClock, type Clock } from "../../lib/clock.ts";
export type { DhcpClock } from "./interface-bindings.ts";
export { DeviceSocketNetwork, type DhcpNetwork, type DhcpSocket } from "./device-socket.ts";
export { DEFAULT_DHCP_SETTINGS, resolveDhcpSettings, decideDhcpReply, type DhcpScope, type DhcpSettings, type DhcpDecision } from "./policy.ts";
export type { DhcpRequestEvent, DhcpReplyEvent, DhcpInterfaceEvent, DhcpServerEvents } from "./events.ts";
export { createDhcpMetrics, type DhcpMetrics } from "./metrics.ts";
export { decodeDhcpPacket, encodeDhcpPacket, createDhcpPacket, type DhcpPacket, type DhcpOptionItem } from "./codec.ts";
export { identifyPi, PXE_MENUS, type PiIdentity, type PiFamily, type PxeMenuVariant } from "./raspberry-pi.ts";
export { messageTypeOf, parseMac, type MacAddress } from "./option-values.ts";
export type { DhcpMessageTypeName } from "./constants.ts";
