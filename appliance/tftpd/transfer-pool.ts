/**
 * Runs transfers in worker threads so a boot storm's sends use every core: the main thread keeps the
 * listening socket, path policy, views and file cache; each worker owns the sockets of the transfers
 * it was given. File bytes live in SharedArrayBuffers (see FirmwareStore), so handing a 30 MB kernel
 * to a worker copies nothing.
 */
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { RemoteInfo } from "node:dgram";
import type { TransferEnd, TransferHandle, TransferHooks, TransferParams } from "./transfer.ts";
import type { AbortReason, TransferFigures } from "./types.ts";

/** Messages from the server to a worker. */
export type ToWorker =
  | { readonly type: "start"; readonly id: number; readonly localAddress: string; readonly params: TransferParams }
  | { readonly type: "repeat"; readonly id: number }
  | { readonly type: "abort"; readonly id: number; readonly reason: AbortReason };

/** Messages from a worker to the server. */
export type FromWorker =
  | { readonly type: "end"; readonly id: number; readonly end: TransferEnd; readonly figures: TransferFigures }
  | { readonly type: "progress"; readonly id: number }
  | { readonly type: "wrong-tid"; readonly id: number; readonly from: RemoteInfo }
  | { readonly type: "ignored"; readonly id: number; readonly reason: string }
  | { readonly type: "socket-error"; readonly id: number; readonly message: string };

class RemoteTransfer implements TransferHandle {
  hasProgressed = false;
  ended = false;
  /** Server clock time of the start or the last progress report (the worker reports at most every 250 ms). */
  lastProgressAt: number;

  constructor(
    readonly id: number,
    readonly worker: Worker,
    readonly hooks: TransferHooks,
  ) {
    this.lastProgressAt = hooks.now();
  }

  onRepeatedRequest(): void {
    if (!this.ended) this.worker.postMessage({ type: "repeat", id: this.id } satisfies ToWorker);
  }

  abort(reason: AbortReason): void {
    if (!this.ended) this.worker.postMessage({ type: "abort", id: this.id, reason } satisfies ToWorker);
  }
}

/** A fixed set of transfer workers; a new transfer goes to the one with the fewest active transfers. */
export class TransferPool {
  private readonly workers: { worker: Worker; active: Set<number> }[] = [];
  private readonly transfers = new Map<number, RemoteTransfer>();
  private drained: (() => void) | null = null;

  /** Starts `count` workers. */
  constructor(
    count: number,
    private readonly log: Logger,
  ) {
    for (let i = 0; i < count; i++) {
      // The .mjs entry registers tsx inside the worker: pirack runs TypeScript without a build step.
      const worker = new Worker(new URL("./transfer-worker.mjs", import.meta.url));
      const entry = { worker, active: new Set<number>() };
      worker.on("message", (msg: FromWorker) => this.onMessage(entry.active, msg));
      worker.on("error", (err) => this.log.error({ err, worker: i }, "transfer worker failed"));
      worker.unref();
      this.workers.push(entry);
    }
  }

  /** Hands a transfer to a worker; the worker binds its socket on `localAddress` and sends the first packet. */
  start(id: number, localAddress: string, params: TransferParams, hooks: TransferHooks): TransferHandle {
    const entry = this.workers.reduce((a, b) => (b.active.size < a.active.size ? b : a));
    const handle = new RemoteTransfer(id, entry.worker, hooks);
    this.transfers.set(id, handle);
    entry.active.add(id);
    entry.worker.postMessage({ type: "start", id, localAddress, params } satisfies ToWorker);
    return handle;
  }

  /** Resolves once every transfer has reported its end, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.transfers.size === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.drained = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.drained = null;
  }

  /** Stops every worker. */
  async terminate(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.worker.terminate()));
  }

  private onMessage(active: Set<number>, msg: FromWorker): void {
    const t = this.transfers.get(msg.id);
    if (!t) return;
    switch (msg.type) {
      case "progress":
        t.hasProgressed = true;
        t.lastProgressAt = t.hooks.now();
        break;
      case "wrong-tid":
        t.hooks.onWrongTid(msg.from);
        break;
      case "ignored":
        t.hooks.onIgnored(msg.reason);
        break;
      case "socket-error":
        t.hooks.onSocketError(new Error(msg.message));
        break;
      case "end":
        t.ended = true;
        this.transfers.delete(msg.id);
        active.delete(msg.id);
        t.hooks.onEnd(msg.end, msg.figures);
        if (this.transfers.size === 0) this.drained?.();
        break;
    }
  }
}
