import { EventEmitter } from "node:events";
import type { RemoteInfo, Socket } from "node:dgram";
import { describe, expect, it } from "vitest";
import { encodeAck, encodeError } from "./codec.ts";
import { retransmitIntervalMs, Transfer, type TransferEnd, type TransferParams } from "./transfer.ts";

/** A socket that records what is sent and lets the test play the client. */
class FakeSocket extends EventEmitter {
  readonly sent: { opcode: number; block: number; bytes: number; to: string }[] = [];
  closed = false;
  send(buf: Buffer, port: number, address: string): void {
    this.sent.push({ opcode: buf.readUInt16BE(0), block: buf.readUInt16BE(2), bytes: buf.length, to: `${address}:${port}` });
  }
  close(): void {
    this.closed = true;
  }
  from(msg: Buffer, address = "10.46.189.2", port = 40000): void {
    this.emit("message", msg, { address, port, family: "IPv4", size: msg.length } as RemoteInfo);
  }
}

function rig(params: Partial<TransferParams> = {}) {
  let t = 0;
  const socket = new FakeSocket();
  const ends: TransferEnd[] = [];
  const wrong: string[] = [];
  const transfer = new Transfer(
    socket as unknown as Socket,
    {
      clientAddress: "10.46.189.2",
      clientPort: 40000,
      data: Buffer.alloc(1200, 7),
      blockSize: 512,
      windowSize: 1,
      timeoutMs: 1000,
      oack: [],
      maxRetransmits: 5,
      idleTimeoutMs: 30_000,
      ...params,
    },
    { now: () => t, onEnd: (e) => void ends.push(e), onWrongTid: (r) => void wrong.push(`${r.address}:${r.port}`), onIgnored: () => undefined, onSocketError: () => undefined },
  );
  return { socket, transfer, ends, wrong, at: (ms: number) => (t = ms) };
}

describe("one TFTP read transfer", () => {
  it("sends block by block in lockstep and completes on the final ACK (a short last block ends the file)", () => {
    const { socket, ends } = rig();
    expect(socket.sent.map((s) => [s.block, s.bytes])).toEqual([[1, 516]]);
    socket.from(encodeAck(1));
    socket.from(encodeAck(2));
    expect(socket.sent.map((s) => [s.block, s.bytes])).toEqual([
      [1, 516],
      [2, 516],
      [3, 180],
    ]);
    socket.from(encodeAck(3));
    expect(ends).toEqual([{ kind: "complete" }]);
    expect(socket.closed).toBe(true);
  });

  it("sends an OACK first when options were accepted, and DATA 1 only after ACK 0", () => {
    const { socket } = rig({ oack: [["blksize", "1024"]], blockSize: 1024 });
    expect(socket.sent.map((s) => s.opcode)).toEqual([6]);
    socket.from(encodeAck(0));
    expect(socket.sent.map((s) => (s.opcode === 6 ? [6] : [s.opcode, s.block, s.bytes]))).toEqual([[6], [3, 1, 1028]]);
  });

  it("answers a stranger with ERROR 5 and carries on", () => {
    const { socket, wrong, ends } = rig();
    socket.from(encodeAck(1), "10.46.189.6", 40000);
    expect(wrong).toEqual(["10.46.189.6:40000"]);
    expect(socket.sent.at(-1)).toMatchObject({ opcode: 5, to: "10.46.189.6:40000" });
    expect(ends).toEqual([]);
  });

  it("retransmits with a doubling interval and gives up after the cap", () => {
    const { socket, transfer, ends, at } = rig({ maxRetransmits: 2 });
    at(999);
    transfer.tick(999);
    expect(socket.sent).toHaveLength(1);
    at(1000);
    transfer.tick(1000);
    expect(socket.sent).toHaveLength(2);
    at(1000 + retransmitIntervalMs(1000, 1));
    transfer.tick(1000 + retransmitIntervalMs(1000, 1));
    expect(socket.sent).toHaveLength(3);
    expect(ends).toEqual([]);
    // The next interval runs out with the cap reached: the first of three blocks never got through.
    at(3000 + retransmitIntervalMs(1000, 2));
    transfer.tick(3000 + retransmitIntervalMs(1000, 2));
    expect(socket.sent).toHaveLength(3);
    expect(ends).toEqual([{ kind: "timeout", reason: "retransmits-exhausted" }]);
  });

  it("with a negotiated timeout of 5 s (curl --max-time 150) still retransmits 4 times within the 30 s idle limit", () => {
    // curl asks for `timeout 5` and re-ACKs its last block every 5 s; the server ignores that duplicate ACK, so
    // only its own retransmissions can recover a lost DATA. Doubling 5 s to 10 and 20 s left two (at 5 and 15 s)
    // before the idle limit: three losses of one block (p = 0.05^3 at 5% loss) ended the transfer under curl.
    const { socket, transfer, ends, at } = rig({ timeoutMs: 5000 });
    const sendsAt: number[] = [];
    for (let t = 100; t <= 30_000; t += 100) {
      at(t);
      const before = socket.sent.length;
      transfer.tick(t);
      if (socket.sent.length > before) sendsAt.push(t);
    }
    expect(sendsAt).toEqual([5000, 13_000, 21_000, 29_000]);
    expect(ends).toEqual([{ kind: "timeout", reason: "idle" }]);
  });

  it("keeps the default schedule: 1, 2, 4, 8, 8 s", () => {
    expect([0, 1, 2, 3, 4].map((r) => retransmitIntervalMs(1000, r))).toEqual([1000, 2000, 4000, 8000, 8000]);
    // A negotiated timeout above the 8 s ceiling is used as is, never shortened.
    expect([0, 1, 2].map((r) => retransmitIntervalMs(10_000, r))).toEqual([10_000, 10_000, 10_000]);
  });

  it("is bounded by the server's idle limit whatever the client's timeout", () => {
    // A client that asked for `timeout 255`: retransmissions are spaced by it, but no progress for 30 s ends it.
    const { transfer, ends, at } = rig({ timeoutMs: 255_000, maxRetransmits: 31 });
    at(29_999);
    transfer.tick(29_999);
    expect(ends).toEqual([]);
    at(30_000);
    transfer.tick(30_000);
    expect(ends).toEqual([{ kind: "timeout", reason: "idle" }]);
  });

  it("ends quietly on the client's ERROR (the Pi's tsize probe: Early terminate)", () => {
    const { socket, ends } = rig({ oack: [["tsize", "1200"]] });
    const before = socket.sent.length;
    socket.from(encodeError(0, "Early terminate"));
    expect(ends).toEqual([{ kind: "abort", reason: "client-error", errorCode: 0, errorMessage: "Early terminate" }]);
    expect(socket.sent).toHaveLength(before);
  });
});
