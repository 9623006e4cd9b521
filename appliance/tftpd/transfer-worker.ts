/** Worker-thread side of TransferPool: runs the transfers it is handed, each on its own socket. */
import { literalLookup } from "../../lib/net/literal-lookup.ts";
import { createSocket, type Socket } from "node:dgram";
import { parentPort } from "node:worker_threads";
import { Transfer } from "./transfer.ts";
import type { FromWorker, ToWorker } from "./transfer-pool.ts";

// Same sweep period and literal-address lookup as the server's own transfers (see server.ts).
const SWEEP_MS = 100;
// Progress reaches the server at most this often per transfer: enough for it to tell a stalled
// transfer (no progress for a retransmit timeout, 1 s by default) from a live one, without a message per ACK.
const PROGRESS_REPORT_MS = 250;

const port = parentPort;
if (!port) throw new Error("transfer-worker must run in a worker thread");
const transfers = new Map<number, Transfer>();
// An abort can overtake the socket bind of its own start: remember it and apply it on registration.
const abortedEarly = new Map<number, Extract<ToWorker, { type: "abort" }>["reason"]>();
const post = (msg: FromWorker) => port.postMessage(msg);

const start = async (msg: Extract<ToWorker, { type: "start" }>): Promise<void> => {
  const socket: Socket = createSocket({ type: "udp4", lookup: literalLookup });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, msg.localAddress, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  const id = msg.id;
  // Structured clone delivers a Uint8Array view of the shared file bytes; wrap it without copying.
  const d = msg.params.data as Uint8Array;
  const data = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  let reportedAt = -Infinity;
  const transfer = new Transfer(
    socket,
    { ...msg.params, data },
    {
      now: () => performance.now(),
      onEnd: (end, figures) => {
        transfers.delete(id);
        post({ type: "end", id, end, figures });
      },
      onWrongTid: (from) => post({ type: "wrong-tid", id, from }),
      onIgnored: (reason) => post({ type: "ignored", id, reason }),
      onSocketError: (err) => post({ type: "socket-error", id, message: err.message }),
      onProgress: () => {
        const now = performance.now();
        if (now - reportedAt < PROGRESS_REPORT_MS) return;
        reportedAt = now;
        post({ type: "progress", id });
      },
    },
  );
  transfers.set(id, transfer);
  const early = abortedEarly.get(id);
  if (early) {
    abortedEarly.delete(id);
    transfer.abort(early);
  }
};

port.on("message", (msg: ToWorker) => {
  if (msg.type === "start") {
    start(msg).catch((err: unknown) =>
      post({ type: "end", id: msg.id, end: { kind: "abort", reason: "socket-error", errorCode: null, errorMessage: String(err) }, figures: { bytes: 0, size: msg.params.data.length, durationMs: 0, blockSize: msg.params.blockSize, windowSize: msg.params.windowSize, retransmits: 0 } }),
    );
  } else if (msg.type === "repeat") transfers.get(msg.id)?.onRepeatedRequest();
  else {
    const t = transfers.get(msg.id);
    if (t) t.abort(msg.reason);
    else abortedEarly.set(msg.id, msg.reason);
  }
});

setInterval(() => {
  const now = performance.now();
  for (const t of transfers.values()) t.tick(now);
}, SWEEP_MS);
