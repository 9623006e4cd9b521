/** Types the TFTP server shares with its callers: injected dependencies, the per-Pi view and events. */
import type { Socket } from "node:dgram";
import type { Logger } from "pino";
import type { Clock } from "../../lib/clock.ts";
import type { MetricsRegistry } from "../../lib/metrics.ts";
import type { ListenerNetwork, TftpInterface } from "./listeners.ts";

/** What the plan says about the Pi behind one client address. */
export interface PiBootView {
  /** Switch port (1-based) the address belongs to. */
  readonly port: number;
  /** The Pi's serial prefix (8 lowercase hex digits) if known; null before enrolment. */
  readonly serial: string | null;
  /** Generated `cmdline.txt` for this port. */
  readonly cmdline: string;
  /** Generated `config.txt` for this port. */
  readonly config: string;
}

/** Maps a client's source address (its /30's `.2`) to its Pi's view, or null when it is not a known Pi. */
export type PiViewResolver = (clientAddress: string) => PiBootView | null | Promise<PiBootView | null>;

/** The part of the clock the TFTP server uses (monotonic milliseconds and a repeating timer): tests drive it. */
export type TftpClock = Pick<Clock, "now" | "every">;

/** Makes the UDP sockets (listening and one per transfer). */
export type SocketFactory = () => Socket;

/** Everything the server needs from outside, injected as one object. */
export interface TftpServerDeps {
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly resolvePi: PiViewResolver;
  readonly clock?: TftpClock;
  readonly createSocket?: SocketFactory;
  /**
   * Storage interfaces to listen on, one device-bound socket each; a request counts only if its source lies
   * in the subnet of the interface it arrived on. Absent: one socket on `address` (tests, benchmarks).
   */
  readonly interfaces?: readonly TftpInterface[];
  /** Device-bound sockets and kernel counters; default the Linux implementation. */
  readonly listenerNetwork?: ListenerNetwork;
}

/** Server settings; every field has a default (see `DEFAULT_TFTP_OPTIONS`). */
export interface TftpServerOptions {
  /** Directory with the shared boot files (`boot.firmware`). */
  readonly firmwareRoot: string;
  /** Listen address; production `0.0.0.0`. */
  readonly address: string;
  /** Listen port; production 69, tests use a high port or 0 (any). */
  readonly port: number;
  /** Largest blksize granted (RFC 2348). */
  readonly maxBlockSize: number;
  /** Largest windowsize granted (RFC 7440); 1 disables windowing. */
  readonly maxWindowSize: number;
  /** Retransmit timeout when the client does not negotiate `timeout`. */
  readonly retransmitTimeoutMs: number;
  /** Retransmissions of the same packet before the transfer is given up; intervals double up to 8x the timeout. */
  readonly maxRetransmits: number;
  /**
   * A transfer with no forward progress for this long ends, whatever the client keeps sending or
   * negotiated: a client's `timeout` spaces retransmissions and never extends this bound.
   */
  readonly idleTimeoutMs: number;
  /** Concurrent transfers in total; more RRQs get ERROR 0 "server busy". */
  readonly maxTransfers: number;
  /** Concurrent transfers per client address; at the limit a new request replaces the client's most stalled transfer. */
  readonly maxTransfersPerClient: number;
  /** What a client address that is not a known Pi may read: nothing, or the shared firmware files. */
  readonly unknownClients: "deny" | "shared";
  /** Bytes of firmware files kept in memory. */
  readonly cacheBytes: number;
  /** Worker threads running transfers (0: all in the main thread); a storm's sends then use every core. */
  readonly workers: number;
}

/** Identifies one transfer (or refused request) in every event. */
export interface TransferRef {
  /** Server-local transfer number, unique for the server's lifetime. */
  readonly id: number;
  readonly client: { readonly address: string; readonly port: number };
  /** Switch port of the requesting Pi, null for unknown clients. */
  readonly piPort: number | null;
  /** Filename exactly as requested. */
  readonly path: string;
  /** The file served, relative to the firmware root, without the serial folder ("" if refused before parsing). */
  readonly file: string;
  /** Serial (or MAC) prefix folder the Pi asked under, null for root-relative names. */
  readonly serialFolder: string | null;
}

/** Per-transfer events; the lead uses them for enrolment (serial folder) and boot stage. */
export type TftpEvent =
  | (TransferRef & { readonly kind: "request"; readonly mode: string; readonly options: ReadonlyArray<readonly [string, string]>; readonly generated: boolean })
  | (TransferRef & { readonly kind: "refused"; readonly code: number; readonly reason: string })
  | (TransferRef & { readonly kind: "oack"; readonly options: ReadonlyArray<readonly [string, string]> })
  | (TransferRef & TransferFigures & { readonly kind: "complete" })
  | (TransferRef & TransferFigures & { readonly kind: "abort"; readonly reason: AbortReason; readonly errorCode: number | null; readonly errorMessage: string | null })
  | (TransferRef & TransferFigures & { readonly kind: "timeout"; readonly reason: TimeoutReason });

/**
 * Why a transfer timed out: no ACK after every retransmission; only the final block's ACK missing
 * (the client probably has the file); or no progress for the idle timeout.
 */
export type TimeoutReason = "retransmits-exhausted" | "final-ack-missing" | "idle";

/** Why a transfer ended early without a timeout. */
export type AbortReason = "client-error" | "superseded" | "replaced" | "server-stop" | "socket-error";

/** Figures of a finished transfer. */
export interface TransferFigures {
  /** File bytes the client acknowledged. */
  readonly bytes: number;
  /** Size of the file being served. */
  readonly size: number;
  readonly durationMs: number;
  readonly blockSize: number;
  readonly windowSize: number;
  readonly retransmits: number;
}

/** Event map of `TftpServer` (node:events typed emitter). */
export interface TftpServerEvents {
  transfer: [TftpEvent];
}
