/** Typed events of `DhcpServer`; the appliance uses them for enrolment and boot-stage tracking. */
import type { DhcpMessageTypeName } from "./constants.ts";
import type { MacAddress } from "./option-values.ts";
import type { PiFamily } from "./raspberry-pi.ts";

/** Every client message that decoded and carried option 53, whatever the server then did with it. */
export interface DhcpRequestEvent {
  readonly port: number;
  readonly vlan: number;
  readonly interfaceName: string;
  readonly mac: MacAddress | null;
  /** Low 32 bits of the serial, 8 lower-case hex digits, when option 97 carries it. */
  readonly serial: string | null;
  /** "3B", "3-family", "4B", "400", "CM4", "5", "500", "CM5", "4-family", ... or null for a non-Pi. */
  readonly model: string | null;
  readonly family: PiFamily | null;
  readonly isPi: boolean;
  readonly messageType: DhcpMessageTypeName;
  readonly transactionId: number;
  readonly vendorClass: string | null;
  readonly requestedAddress: string | null;
  /** Clock time (ms) the request was handled. */
  readonly at: number;
}

/** A reply that left the interface. */
export interface DhcpReplyEvent {
  readonly port: number;
  readonly vlan: number;
  readonly interfaceName: string;
  readonly mac: MacAddress | null;
  readonly messageType: "OFFER" | "ACK" | "NAK";
  readonly transactionId: number;
  readonly yourAddress: string;
  /** "255.255.255.255:68" or "10.46.189.2:68". */
  readonly destination: string;
  readonly at: number;
}

/** An interface socket changed state: "open" (serving), "waiting" (missing or recreated; retrying), "closed" (scope removed). */
export interface DhcpInterfaceEvent {
  readonly port: number;
  readonly vlan: number;
  readonly interfaceName: string;
  readonly state: "open" | "waiting" | "closed";
  readonly reason?: string;
}

/** Event map of `DhcpServer` (node:events typed form). */
export interface DhcpServerEvents {
  request: [DhcpRequestEvent];
  reply: [DhcpReplyEvent];
  interface: [DhcpInterfaceEvent];
}
