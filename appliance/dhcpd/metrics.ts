/** The DHCP server's counters for `GET /metrics`, registered on the injected registry. */
import type { Counter, Gauge, MetricsRegistry } from "../../lib/metrics.ts";

/** Handles of every DHCP series. */
export interface DhcpMetrics {
  /** Decoded client messages by `type` (DISCOVER, REQUEST, ..., "none" for BOOTP/junk option 53). */
  readonly requests: Counter;
  /** Replies sent by `type` (OFFER, ACK, NAK). */
  readonly replies: Counter;
  /** Datagrams dropped because they did not decode. */
  readonly malformed: Counter;
  /** Decoded requests not answered, by `reason`. */
  readonly ignored: Counter;
  readonly sendErrors: Counter;
  /** Unicast replies that fell back to broadcast because the neighbour entry could not be set. */
  readonly neighbourErrors: Counter;
  /** Unexpected failures while handling a decoded request (bugs; the packet is dropped). */
  readonly errors: Counter;
  readonly interfacesOpen: Gauge;
  /** Requests whose IP source is outside the arrival interface's subnet (no identity event, at most a NAK), by `iface`. */
  readonly wrongSource: Counter;
  /** Datagrams the kernel dropped before the server read them (full receive buffer), by `iface`. */
  readonly receiveBufferDrops: Counter;
}

/** Registers (or reuses) the DHCP series on `registry`. */
export function createDhcpMetrics(registry: MetricsRegistry): DhcpMetrics {
  return {
    requests: registry.counter("pirack_dhcp_requests_total", "DHCP client messages received, by message type"),
    replies: registry.counter("pirack_dhcp_replies_total", "DHCP replies sent, by message type"),
    malformed: registry.counter("pirack_dhcp_malformed_total", "Datagrams on port 67 dropped because they are not valid DHCP"),
    ignored: registry.counter("pirack_dhcp_ignored_total", "DHCP requests deliberately not answered, by reason"),
    sendErrors: registry.counter("pirack_dhcp_send_errors_total", "DHCP replies that could not be sent"),
    neighbourErrors: registry.counter("pirack_dhcp_neighbour_errors_total", "Unicast replies broadcast instead because the neighbour entry failed"),
    errors: registry.counter("pirack_dhcp_errors_total", "Unexpected failures while handling a DHCP request"),
    interfacesOpen: registry.gauge("pirack_dhcp_interfaces_open", "Interfaces with a listening DHCP socket"),
    wrongSource: registry.counter("pirack_dhcp_wrong_source_total", "DHCP requests whose IP source is outside the arrival interface's subnet, by interface"),
    receiveBufferDrops: registry.counter("pirack_dhcp_receive_buffer_drops_total", "Datagrams the kernel dropped on a DHCP socket (receive buffer full), by interface"),
  };
}
