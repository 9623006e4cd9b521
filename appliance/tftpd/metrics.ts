/** TFTP counters and gauges for `GET /metrics`; updated per request and per finished transfer, never per packet. */
import type { Counter, Gauge, MetricsRegistry } from "../../lib/metrics.ts";
import type { TransferFigures } from "./types.ts";

/** The TFTP server's metric handles. */
export class TftpMetrics {
  private readonly requests: Counter;
  private readonly transfers: Counter;
  private readonly bytes: Counter;
  private readonly retransmits: Counter;
  private readonly droppedPackets: Counter;
  private readonly cacheReads: Counter;
  private readonly kernelDropped: Counter;
  private readonly active: Gauge;
  private readonly cachedBytes: Gauge;

  /** Registers every series on `registry`. */
  constructor(registry: MetricsRegistry) {
    this.requests = registry.counter("pirack_tftp_requests_total", "TFTP requests by result (accepted or the refusal reason)");
    this.transfers = registry.counter("pirack_tftp_transfers_total", "Finished TFTP transfers by outcome (complete, abort, timeout)");
    this.bytes = registry.counter("pirack_tftp_sent_bytes_total", "File bytes acknowledged by TFTP clients");
    this.retransmits = registry.counter("pirack_tftp_retransmits_total", "TFTP packets sent again after a timeout");
    this.droppedPackets = registry.counter("pirack_tftp_dropped_packets_total", "Received TFTP packets dropped, by reason");
    this.cacheReads = registry.counter("pirack_tftp_cache_reads_total", "Firmware file reads by cache result (hit, miss)");
    this.kernelDropped = registry.counter("pirack_tftp_receive_buffer_drops_total", "Requests the kernel dropped on a TFTP listening socket (receive buffer full), by interface");
    this.active = registry.gauge("pirack_tftp_active_transfers", "TFTP transfers in flight");
    this.cachedBytes = registry.gauge("pirack_tftp_cache_bytes", "Firmware bytes held in memory");
  }

  /** A request became a transfer. */
  accepted(): void {
    this.requests.inc({ result: "accepted" });
  }

  /** A request was answered with an ERROR; `reason` is a stable token (not_found, bad_path, write, ...). */
  refused(reason: string): void {
    this.requests.inc({ result: reason });
  }

  /** A packet was dropped without changing any transfer. */
  dropped(reason: string): void {
    this.droppedPackets.inc({ reason });
  }

  /** The kernel dropped `count` datagrams on the listener of `iface` ("all" for a single listener on every interface). */
  kernelDrops(iface: string, count: number): void {
    this.kernelDropped.inc({ iface }, count);
  }

  /** A firmware file was served from memory (hit) or read from disk (miss). */
  cache(hit: boolean): void {
    this.cacheReads.inc({ result: hit ? "hit" : "miss" });
  }

  /** A transfer ended. */
  ended(outcome: "complete" | "abort" | "timeout", figures: TransferFigures): void {
    this.transfers.inc({ outcome });
    this.bytes.inc({}, figures.bytes);
    if (figures.retransmits) this.retransmits.inc({}, figures.retransmits);
  }

  /** Sets the number of transfers in flight (requests being resolved included). */
  setActive(transfers: number): void {
    this.active.set(transfers);
  }

  /** Sets the bytes held by the firmware cache. */
  setCacheBytes(bytes: number): void {
    this.cachedBytes.set(bytes);
  }
}
