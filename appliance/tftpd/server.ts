/**
 * The TFTP server: one listening socket, one socket per transfer. Read-only; answers each Pi from its
 * own view (generated cmdline.txt/config.txt) and the shared firmware directory.
 */
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
import { Transfer, type TransferEnd, type TransferHandle, type TransferHooks, type TransferParams } from "./transfer.ts";
import { TransferPool } from "./transfer-pool.ts";
import { DEFAULT_TFTP_OPTIONS } from "./defaults.ts";
import { systemClock } from "../../lib/clock.ts";
import type { TftpClock, PiBootView, TftpEvent, TftpServerDeps, TftpServerEvents, TftpServerOptions, TransferFigures, TransferRef } from "./types.ts";

// Sweep period for retransmits and idle checks; timeouts are whole seconds, so 100 ms is fine-grained enough.
const SWEEP_MS = 100;

export { DEFAULT_TFTP_OPTIONS };


/**
 * Address "resolution" for sockets that only ever send to the IPv4 literal a packet came from. dgram
 * runs every send's address through dns.lookup, which answers literals on the next tick; answering
 * synchronously sends at once and took ~10% off the per-block CPU in bench/tftp.
 */
const literalLookup = (address: string, _options: unknown, callback: (err: Error | null, address: string, family: number) => void): void =>
  callback(null, address, 4);

interface Slot {
  ref: TransferRef;
  transfer: TransferHandle | null;
  closed: boolean;
}

/** Read-only TFTP server for Pi netboot; `on("transfer", e => …)` receives every per-transfer event. */
export class TftpServer extends EventEmitter<TftpServerEvents> {
  private readonly options: TftpServerOptions;
  private readonly log: Logger;
  private readonly clock: TftpClock;
  private readonly metrics: TftpMetrics;
  private readonly store: FirmwareStore;
  private readonly createSocket: () => Socket;
  private readonly slots = new Map<string, Slot>();
  private readonly perClient = new Map<string, number>();
  private listener: Socket | null = null;
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
  }

  /** Bound address and port of the listening socket (useful with port 0). */
  address(): { address: string; port: number } {
    if (!this.listener) throw new PirackError("TFTP_NOT_STARTED", "expected a started server, it is stopped");
    return this.listener.address();
  }

  /** Number of transfers in flight. */
  get activeTransfers(): number {
    return this.slots.size;
  }

  /** Binds the listening socket; rejects with TFTP_BIND_FAILED (e.g. port in use, no privilege for 69). */
  async start(): Promise<void> {
    if (this.listener) return;
    const socket = this.createSocket();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) =>
        reject(new PirackError("TFTP_BIND_FAILED", `expected to bind ${this.options.address}:${this.options.port}, got ${err.message}`, { cause: err }));
      socket.once("error", onError);
      socket.bind(this.options.port, this.options.address, () => {
        socket.off("error", onError);
        resolve();
      });
    });
    socket.on("error", (err) => this.log.warn({ err }, "listening socket error"));
    socket.on("message", (msg, rinfo) => void this.onRequest(msg, rinfo));
    this.listener = socket;
    if (this.options.workers > 0) this.pool = new TransferPool(this.options.workers, this.log);
    this.stopSweep = this.clock.every(SWEEP_MS, () => this.sweep());
    this.log.info({ address: this.options.address, port: socket.address().port, root: this.options.firmwareRoot }, "tftp server listening");
  }

  /** Closes the listening socket and ends every transfer (reported as abort "server-stop"). */
  async stop(): Promise<void> {
    this.stopSweep?.();
    this.stopSweep = null;
    const listener = this.listener;
    this.listener = null;
    for (const slot of [...this.slots.values()]) {
      if (slot.transfer) slot.transfer.abort("server-stop");
      else this.release(slot);
    }
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
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
    for (const slot of this.slots.values()) if (slot.transfer instanceof Transfer) slot.transfer.tick(now);
    this.metrics.setCacheBytes(this.store.bytesCached);
  }

  private async onRequest(msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    let packet;
    try {
      packet = decodePacket(msg);
    } catch (err) {
      this.metrics.dropped("malformed");
      this.log.debug({ err, client: rinfo.address, clientPort: rinfo.port }, "malformed packet dropped");
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
    if ((this.perClient.get(rinfo.address) ?? 0) >= this.options.maxTransfersPerClient) {
      return this.refuse(ref, TftpErrorCode.NotDefined, "client_busy", "too many transfers from this client");
    }
    // Hold the slot while the view and file load, so a storm cannot overshoot the limits.
    const slot: Slot = { ref, transfer: null, closed: false };
    this.hold(key, slot);
    try {
      await this.serve(slot, req, path, rinfo);
    } catch (err) {
      this.release(slot);
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
      this.release(slot);
      this.log.info({ client: rinfo.address, path: req.filename }, "request from unknown client refused");
      return this.refuse(ref, TftpErrorCode.AccessViolation, "unknown_client", "unknown client");
    }
    let data: Buffer;
    try {
      data = await this.content(path.relativePath, path.generated, view, req.mode === "netascii");
    } catch (err) {
      this.release(slot);
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

  private optionLimits(): OptionLimits {
    return {
      maxBlockSize: this.options.maxBlockSize,
      maxWindowSize: this.options.maxWindowSize,
      defaultTimeoutMs: this.options.retransmitTimeoutMs,
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
    this.release(slot);
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

  private hold(key: string, slot: Slot): void {
    this.slots.set(key, slot);
    this.perClient.set(slot.ref.client.address, (this.perClient.get(slot.ref.client.address) ?? 0) + 1);
    this.metrics.setActive(this.slots.size);
  }

  private release(slot: Slot): void {
    if (slot.closed) return;
    slot.closed = true;
    const key = `${slot.ref.client.address}:${slot.ref.client.port}`;
    if (this.slots.get(key) === slot) this.slots.delete(key);
    const n = (this.perClient.get(slot.ref.client.address) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(slot.ref.client.address);
    else this.perClient.set(slot.ref.client.address, n);
    this.metrics.setActive(this.slots.size);
  }

  private refuse(ref: TransferRef, code: number, reason: string, message: string): void {
    this.metrics.refused(reason);
    this.emitEvent({ ...ref, kind: "refused", code, reason });
    if (!this.listener) return;
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
