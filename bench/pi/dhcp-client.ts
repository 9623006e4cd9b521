/**
 * One firmware DHCP exchange over a socket on 0.0.0.0:68: DISCOVERs at the stage's interval until an OFFER
 * with the Raspberry Pi boot menu arrives; for the EEPROM then REQUEST until ACK (a NAK starts over). Offers
 * without option 43's "Raspberry Pi Boot" menu are ignored, as the firmware ignores them (pi-netboot §1.4).
 */
import { decodeReply, encodeDiscover, encodeRequest, type ServerReply } from "./dhcp-packets.ts";
import type { DhcpStage } from "./models.ts";
import type { PiSocket } from "./net.ts";

/** A lease as the firmware keeps it. */
export interface Lease {
  readonly address: string;
  readonly netmask: string;
  readonly router: string | null;
  /** TFTP server: siaddr, else option 66, else option 54 (pi-netboot §0: keep them equal). */
  readonly tftpServer: string;
  readonly serverIdentifier: string | null;
  readonly transactionId: number;
  /** DISCOVERs sent, REQUESTs sent, replies ignored (no Pi menu, other xid or MAC). */
  readonly discovers: number;
  readonly requests: number;
  readonly ignored: number;
}

/** What the exchange needs from outside. */
export interface DhcpClientDeps {
  readonly socket: PiSocket;
  /** A fresh xid for the EEPROM (injected so tests can fix it). */
  randomTransactionId(): number;
}

const isZero = (address: string) => address === "0.0.0.0";

/** Runs the stage; rejects after its attempts with the counts seen. */
export function runDhcpStage(deps: DhcpClientDeps, stage: DhcpStage, mac: string): Promise<Lease> {
  const transactionId = stage.fixedTransactionId ?? deps.randomTransactionId() >>> 0;
  const base = { sender: stage.sender, transactionId, mac, clientGuid: stage.guid };
  let discovers = 0;
  let requests = 0;
  let ignored = 0;
  let offer: ServerReply | null = null;
  let timer: NodeJS.Timeout | undefined;

  return new Promise<Lease>((resolve, reject) => {
    let finished = false;
    const finish = (fn: () => void) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      fn();
    };
    const broadcast = (bytes: Buffer) => deps.socket.send(bytes, 67, "255.255.255.255").catch(() => undefined);
    const step = () => {
      if (discovers + requests >= stage.attempts) {
        finish(() => reject(new Error(`no usable DHCP ${offer ? "ACK" : "OFFER"} after ${discovers} DISCOVER(s) and ${requests} REQUEST(s) (${ignored} replies ignored)`)));
        return;
      }
      if (offer) {
        requests += 1;
        void broadcast(encodeRequest({ ...base, requestedAddress: offer.yourAddress, serverIdentifier: offer.serverIdentifier ?? offer.nextServer }));
      } else {
        discovers += 1;
        void broadcast(encodeDiscover(base));
      }
      timer = setTimeout(step, stage.retryMs);
    };
    const lease = (reply: ServerReply): Lease => ({
      address: reply.yourAddress,
      netmask: reply.subnetMask ?? "255.255.255.0",
      router: reply.router,
      tftpServer: !isZero(reply.nextServer) ? reply.nextServer : (reply.tftpServerName ?? reply.serverIdentifier ?? reply.nextServer),
      serverIdentifier: reply.serverIdentifier,
      transactionId,
      discovers,
      requests,
      ignored,
    });

    deps.socket.onMessage((bytes) => {
      if (finished) return;
      const reply = decodeReply(bytes);
      if (!reply || reply.transactionId !== transactionId || reply.clientMac !== mac.toLowerCase()) {
        ignored += 1;
        return;
      }
      if (!offer && reply.messageType === "offer") {
        if (!reply.hasPiBootMenu || isZero(reply.yourAddress)) {
          ignored += 1;
          return;
        }
        if (!stage.sendsRequest) return finish(() => resolve(lease(reply)));
        offer = reply;
        clearTimeout(timer);
        step(); // REQUEST at once
        return;
      }
      if (offer && reply.messageType === "ack") return finish(() => resolve(lease({ ...offer!, ...pick(reply) })));
      if (offer && reply.messageType === "nak") {
        offer = null; // start over with DISCOVER
        clearTimeout(timer);
        step();
        return;
      }
      ignored += 1;
    });
    step();
  });
}

/** ACK fields that override the OFFER's, where the ACK carries them. */
function pick(ack: ServerReply): Partial<ServerReply> {
  const out: { -readonly [K in keyof ServerReply]?: ServerReply[K] } = { yourAddress: ack.yourAddress };
  if (!isZero(ack.nextServer)) out.nextServer = ack.nextServer;
  if (ack.subnetMask) out.subnetMask = ack.subnetMask;
  if (ack.router) out.router = ack.router;
  if (ack.serverIdentifier) out.serverIdentifier = ack.serverIdentifier;
  return out;
}
