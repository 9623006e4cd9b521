/**
 * The seed rack's switch host (192.0.2.10) is a documentation address (RFC 5737; RFC 3849 for IPv6): it is
 * nobody's switch, so pirack never sends SNMP to such an address, and says so, instead of polling a stranger.
 */
import { isIP } from "node:net";
import type { Config } from "./config.ts";

/** True for the address blocks reserved for documentation: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32. */
export function isDocumentationAddress(host: string): boolean {
  if (isIP(host) === 4) return /^(192\.0\.2|198\.51\.100|203\.0\.113)\./.test(host);
  if (isIP(host) === 6) return /^2001:0?db8:/i.test(host);
  return false;
}

/** Why the configured switch must not be contacted, in words for the operator, or undefined when it may be. */
export function switchAddressProblem(config: Config): string | undefined {
  const host = config.switch.host;
  if (config.switch.driver === "none" || !host || !isDocumentationAddress(host)) return undefined;
  return `switch.host ${host} is a documentation address (RFC 5737/3849), not your switch: pirack sends it nothing; set switch.host in rack.yaml to your switch's address (or switch.driver: none)`;
}

/** The config with the switch left alone (driver none) when its host is a documentation address. */
export function withoutPlaceholderSwitch(config: Config): Config {
  if (!switchAddressProblem(config)) return config;
  return Object.freeze({ ...config, switch: Object.freeze({ ...config.switch, driver: "none" as const }) });
}
