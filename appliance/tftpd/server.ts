/**
 * The TFTP server: one listening socket, one socket per transfer. Read-only; answers each Pi from its
 * own view (generated cmdline.txt/config.txt) and the shared firmware directory.
 */
import { literalLookup } from "../../lib/net/literal-lookup.ts";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { PirackError, NotFoundError } from "../../lib/errors.ts";
import { decodePacket, encodeError, TftpErrorCode, type TftpRequest } from "./codec.ts";
import { FirmwareStore } from "./firmware-store.ts";
import { TftpMetrics } from "./metrics.ts";
import { negotiateOptions, type OptionLimits } from "./options.ts";
import { toNetascii } from "./netascii.ts";
import { isRefused, resolveRequestPath, type ResolvedPath } from "./paths.ts";
import { Transfer, type TransferEnd, type TransferHooks, type TransferParams } from "./transfer.ts";
import { TransferPool } from "./transfer-pool.ts";
import { SlotTable, type Slot } from "./slots.ts";
import { isOnInterface, linuxListenerNetwork, TftpListeners, type TftpInterface } from "./listeners.ts";
import { DEFAULT_TFTP_OPTIONS } from "./defaults.ts";
import { systemClock } from "../../lib/clock.ts";
import type { TftpClock, PiBootView, TftpEvent, TftpServerDeps, TftpServerEvents, TftpServerOptions, TransferFigures, TransferRef } from "./types.ts";

// Bytes of a malformed packet shown (as hex) in its debug log line.
const MALFORMED_HEX_BYTES = 32;

// How often listeners are checked (missing or recreated interfaces) and kernel drop counters sampled.
const LISTENER_CHECK_MS = 2000;

// Sweep period for retransmits and idle checks; timeouts are whole seconds, so 100 ms is fine-grained enough.
const SWEEP_MS = 100;

export { DEFAULT_TFTP_OPTIONS };



/** Read-only TFTP server for Pi netboot; `on("transfer", e => …)` receives every per-transfer event. */
export class TftpServer extends EventEmitter<TftpServerEvents> {
  private readonly options: TftpServerOptions;
  private readonly log: Logger;
  private readonly clock: TftpClock;
  private readonly metrics: TftpMetrics;
  private readonly store: FirmwareStore;
  private readonly createSocket: () => Socket;
  private readonly slots: SlotTable;
  private sockets: TftpListeners | null = null;
  private interfaces: readonly TftpInterface[] | null;
  private lastCheckAt = -Infinity;
  private pool: TransferPool | null = null;
  private stopSweep: (() => void) | null = null;
  private nextId = 1;

  /** `options` needs only `firmwareRoot`; everything else falls back to `DEFAULT_TFTP_OPTIONS`. */
  constructor(
    options: Partial<TftpServerOptions> & Pick<TftpServerOptions, "firmwareRoot">,
    private readonly deps: TftpServerDeps,
  ) {
    super();
    this.options = { ...DEFAULT_TFTP_OPTIONS, ...options };
    this.log = deps.log.child({ component: "tftpd" });
    this.clock = deps.clock ?? systemClock;
    this.metrics = new TftpMetrics(deps.metrics);
    this.store = new FirmwareStore({ root: this.options.firmwareRoot, cacheBytes: this.options.cacheBytes });
    this.createSocket = deps.createSocket ?? (() => createSocket({ type: "udp4", lookup: literalLookup }));
    this.interfaces = deps.interfaces ?? null;
    this.slots = new SlotTable((active) => this.metrics.setActive(active));
  }

  /** Bound address and port of the listening socket (useful with port 0). */
  address(): { address: string; port: number } {
    const bound = this.sockets?.address();
    if (!bound) throw new PirackError("TFTP_NOT_STARTED", "expected a started server with an open listening socket");
    return bound;
  }

  /** Replaces the storage interfaces listened on (only for a server started with `deps.interfaces`). */
  async updateInterfaces(interfaces: readonly TftpInterface[]): Promise<void> {
    if (this.interfaces === null) return;
    this.interfaces = interfaces;
    await this.sockets?.update(interfaces);
  }

  /** Number of transfers in flight. */
  get activeTransfers(): number {
    return this.slots.size;
  }

  /**
   * Binds the listening socket, or one per storage interface (`deps.interfaces`); rejects with TFTP_BIND_FAILED
   * (e.g. port in use, no privilege for 69). A missing interface is retried in the background.
   */
  async start(): Promise<void> {
    if (this.sockets) return;
    const listeners = new TftpListeners({
      log: this.log,
      address: this.options.address,
      port: this.options.port,
      createSocket: this.createSocket,
      network: this.deps.listenerNetwork ?? linuxListenerNetwork(this.createSocket),
      now: () => this.clock.now(),
      onMessage: (msg, rinfo, iface) => void this.onRequest(msg, rinfo, iface),
      onKernelDrops: (iface, count) => this.metrics.kernelDrops(iface, count),
    });
    await listeners.start(this.interfaces);
    this.sockets = listeners;
    if (this.options.workers > 0) this.pool = new TransferPool(this.options.workers, this.log);
    this.stopSweep = this.clock.every(SWEEP_MS, () => this.sweep());
    const on = this.interfaces?.map((i) => i.interfaceName) ?? "all interfaces";
    this.log.info({ address: this.options.address, port: this.options.port, interfaces: on, root: this.options.firmwareRoot }, "tftp server listening");
  }

  /** Closes the listening socket and ends every transfer (reported as abort "server-stop"). */
  async stop(): Promise<void> {
    this.stopSweep?.();
    this.stopSweep = null;
    const listeners = this.sockets;
    this.sockets = null;
    for (const slot of this.slots.all()) {
      if (slot.transfer) slot.transfer.abort("server-stop");
      else this.slots.release(slot);
    }
    await listeners?.close();
    if (this.pool) {
      await this.pool.drain(2000);
      await this.pool.terminate();
      this.pool = null;
    }
    this.store.clear();
    this.log.info("tftp server stopped");
  }

  private sweep(): void {
    const now = this.clock.now();
    // Transfers in workers have their own sweep there.
    for (const slot of this.slots.all()) if (slot.transfer instanceof Transfer) slot.transfer.tick(now);
    this.metrics.setCacheBytes(this.store.bytesCached);
    // Every listener once per LISTENER_CHECK_MS, a slice per sweep at most.
    const tickMs = this.sockets?.checkIntervalMs(LISTENER_CHECK_MS, SWEEP_MS) ?? LISTENER_CHECK_MS;
    if (now - this.lastCheckAt >= tickMs) {
      this.lastCheckAt = now;
      this.sockets?.check(LISTENER_CHECK_MS, tickMs);
    }
  }

  private async onRequest(msg: Buffer, rinfo: RemoteInfo, iface: TftpInterface | null): Promise<void> {
    if (iface && !isOnInterface(iface, rinfo.address)) {
      // Spoofed, or sent across VLANs: a Pi is known by its address only on its own interface (issue 9).
      this.metrics.dropped("wrong_interface");
      this.log.debug({ iface: iface.interfaceName, client: rinfo.address, clientPort: rinfo.port }, "request from outside the interface's subnet dropped");
      return;
    }
    let packet;
    try {
      packet = decodePacket(msg);
    } catch (err) {
      this.metrics.dropped("malformed");
      // The code, the reason and the first bytes say what was wrong; a stack trace per junk packet would not (issue 9).
      const { code, message } = err instanceof PirackError ? err : { code: "TFTP_DECODE_FAILED", message: String(err) };
      const hex = msg.subarray(0, MALFORMED_HEX_BYTES).toString("hex");
      this.log.debug({ code, reason: message.slice(0, 160), client: rinfo.address, clientPort: rinfo.port, bytes: msg.length, hex }, "malformed packet dropped");
      return;
    }
    if (packet.kind !== "rrq" && packet.kind !== "wrq") {
      // Not a request: nothing to answer on the listening port (answering would reflect junk).
      this.metrics.dropped("unexpected");
      this.log.debug({ kind: packet.kind, client: rinfo.address }, "non-request packet on listening port dropped");
      return;
    }
    try {
      await this.handleRequest(packet, rinfo);
    } catch (err) {
      // Defensive: a request must never take the daemon down.
      this.log.error({ err, client: rinfo.address }, "request handling failed");
    }
  }

  private async handleRequest(req: TftpRequest, rinfo: RemoteInfo): Promise<void> {
    const key = `${rinfo.address}:${rinfo.port}`;
    const existing = this.slots.get(key);
    if (existing) {
      // The client re-sent its RRQ (our OACK/DATA 1 was lost or slow): answer it from the live transfer.
      if (!existing.transfer || !existing.transfer.hasProgressed) {
        existing.transfer?.onRepeatedRequest();
        return this.metrics.dropped("duplicate_request");
      }
      existing.transfer.abort("superseded");
    }
    const path = resolveRequestPath(req.filename);
    const ref: TransferRef = {
      id: this.nextId++,
      client: { address: rinfo.address, port: rinfo.port },
      piPort: null,
      path: req.filename,
      file: isRefused(path) ? "" : path.relativePath,
      serialFolder: isRefused(path) ? null : path.serialFolder,
    };
    if (req.kind === "wrq") return this.refuse(ref, TftpErrorCode.AccessViolation, "write", "read-only server");
    if (req.mode !== "octet" && req.mode !== "netascii") return this.refuse(ref, TftpErrorCode.IllegalOperation, "bad_mode", `mode ${req.mode} not supported`);
    if (isRefused(path)) {
      this.log.warn({ client: rinfo.address, path: req.filename, reason: path.refused }, "request path refused");
      return this.refuse(ref, TftpErrorCode.AccessViolation, "bad_path", "access violation");
    }
    if (this.slots.size >= this.options.maxTransfers) return this.refuse(ref, TftpErrorCode.NotDefined, "busy", "server busy, retry later");
    if (this.slots.countFor(rinfo.address) >= this.options.maxTransfersPerClient && !this.replaceStalled(rinfo.address)) {
      return this.refuse(ref, TftpErrorCode.NotDefined, "client_busy", "too many transfers from this client");
    }
    // Hold the slot while the view and file load, so a storm cannot overshoot the limits.
    const slot: Slot = { ref, transfer: null, closed: false };
    this.slots.hold(key, slot);
    try {
      await this.serve(slot, req, path, rinfo);
    } catch (err) {
      this.slots.release(slot);
      throw err;
    }
  }

  private async serve(slot: Slot, req: TftpRequest, path: ResolvedPath, rinfo: RemoteInfo): Promise<void> {
    const view: PiBootView | null = await this.deps.resolvePi(rinfo.address);
    const ref: TransferRef = { ...slot.ref, piPort: view?.port ?? null };
    slot.ref = ref;
    this.emitEvent({ ...ref, kind: "request", mode: req.mode, options: req.options, generated: path.generated !== null });
    this.log.debug({ id: ref.id, client: rinfo.address, piPort: ref.piPort, path: req.filename, options: req.options }, "read request");
    if (!view && this.options.unknownClients === "deny") {
      this.slots.release(slot);
      this.log.info({ client: rinfo.address, path: req.filename }, "request from unknown client refused");
      return this.refuse(ref, TftpErrorCode.AccessViolation, "unknown_client", "unknown client");
    }
    let data: Buffer;
    try {
      data = await this.content(path.relativePath, path.generated, view, req.mode === "netascii");
    } catch (err) {
      this.slots.release(slot);
      if (err instanceof NotFoundError) return this.refuse(ref, TftpErrorCode.FileNotFound, "not_found", "file not found");
      this.log.warn({ err, id: ref.id, path: req.filename }, "file refused");
      return this.refuse(ref, TftpErrorCode.AccessViolation, "unreadable", "access violation");
    }
    if (slot.closed) return; // the server stopped while the file loaded
    const negotiated = negotiateOptions(req.options, data.length, this.optionLimits());
    if (negotiated.ignored.length) this.log.debug({ id: ref.id, ignored: negotiated.ignored }, "options ignored");
    this.metrics.accepted();
    if (negotiated.oack.length) this.emitEvent({ ...ref, kind: "oack", options: negotiated.oack });
    const params: TransferParams = {
      clientAddress: rinfo.address,
      clientPort: rinfo.port,
      data,
      blockSize: negotiated.blockSize,
      windowSize: negotiated.windowSize,
      timeoutMs: negotiated.timeoutMs,
      oack: negotiated.oack,
      maxRetransmits: this.options.maxRetransmits,
      idleTimeoutMs: this.options.idleTimeoutMs,
    };
    const hooks: TransferHooks = {
      now: () => this.clock.now(),
      onEnd: (end, figures) => this.onEnd(slot, end, figures),
      onWrongTid: (from) => {
        this.metrics.dropped("wrong_tid");
        this.log.debug({ id: ref.id, from: `${from.address}:${from.port}` }, "packet from unknown transfer id answered");
      },
      onIgnored: (reason) => {
        this.metrics.dropped("unexpected");
        this.log.debug({ id: ref.id, reason }, "packet ignored");
      },
      onSocketError: (err) => this.log.debug({ id: ref.id, err }, "transfer socket error"),
    };
    if (this.pool) {
      slot.transfer = this.pool.start(ref.id, this.options.address, params, hooks);
      return;
    }
    const socket = await this.bindTransferSocket();
    if (slot.closed) {
      socket.close();
      return;
    }
    slot.transfer = new Transfer(socket, params, hooks);
  }

  /** A client at its limit asks again: frees its most stalled transfer (see `SlotTable.mostStalled`); true if one was freed. */
  private replaceStalled(address: string): boolean {
    const slot = this.slots.mostStalled(address, this.clock.now(), this.options.retransmitTimeoutMs);
    if (!slot) return false;
    this.log.debug({ id: slot.ref.id, client: address, path: slot.ref.path }, "stalled transfer replaced by a new request");
    // Released here, not when the abort is reported (a worker reports asynchronously), so the new request fits.
    slot.transfer!.abort("replaced");
    this.slots.release(slot);
    return true;
  }

  private optionLimits(): OptionLimits {
    return {
      maxBlockSize: this.options.maxBlockSize,
      maxWindowSize: this.options.maxWindowSize,
      defaultTimeoutMs: this.options.retransmitTimeoutMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
    };
  }

  private async content(relativePath: string, generated: string | null, view: PiBootView | null, netascii: boolean): Promise<Buffer> {
    if (generated !== null) {
      if (!view) throw new NotFoundError("TFTP_FILE_NOT_FOUND", `expected a known pi for generated ${generated}, got an unknown client`);
      const text = generated === "cmdline.txt" ? view.cmdline : view.config;
      const bytes = Buffer.from(text, "utf8");
      return netascii ? toNetascii(bytes) : bytes;
    }
    const file = await this.store.read(relativePath, netascii);
    this.metrics.cache(file.cacheHit);
    return file.data;
  }

  private bindTransferSocket(): Promise<Socket> {
    const socket = this.createSocket();
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      // Same address as the listener: with 0.0.0.0 the kernel picks the source from the route to the Pi's /30.
      socket.bind(0, this.options.address, () => {
        socket.off("error", reject);
        resolve(socket);
      });
    });
  }

  private onEnd(slot: Slot, end: TransferEnd, figures: TransferFigures): void {
    this.slots.release(slot);
    this.metrics.ended(end.kind, figures);
    const ref = slot.ref;
    if (end.kind === "complete") {
      this.emitEvent({ ...ref, ...figures, kind: "complete" });
      this.log.debug({ id: ref.id, path: ref.path, bytes: figures.bytes, durationMs: Math.round(figures.durationMs) }, "transfer complete");
    } else if (end.kind === "abort") {
      this.emitEvent({ ...ref, ...figures, ...end });
      this.log.debug({ id: ref.id, path: ref.path, reason: end.reason, errorCode: end.errorCode, errorMessage: end.errorMessage }, "transfer aborted");
    } else {
      this.emitEvent({ ...ref, ...figures, ...end });
      this.log.warn({ id: ref.id, path: ref.path, client: ref.client.address, reason: end.reason, bytes: figures.bytes }, "transfer timed out");
    }
  }

  private refuse(ref: TransferRef, code: number, reason: string, message: string): void {
    this.metrics.refused(reason);
    this.emitEvent({ ...ref, kind: "refused", code, reason });
    if (!this.sockets) return;
    // The ERROR comes from a fresh port, as the first packet of a transfer would (RFC 1350 §4):
    // clients that lock onto the server's TID from the first reply then see a consistent peer.
    this.bindTransferSocket()
      .then((socket) => socket.send(encodeError(code, message), ref.client.port, ref.client.address, () => socket.close()))
      .catch((err: unknown) => this.log.debug({ err, id: ref.id }, "error reply not sent"));
  }

  private emitEvent(event: TftpEvent): void {
    this.emit("transfer", event);
  }
}
