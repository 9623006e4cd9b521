/** The TFTP server's defaults, pure data: the config schema reads them without loading the server. */
import type { TftpServerOptions } from "./types.ts";

/** Defaults for every server option except the firmware root. */
export const DEFAULT_TFTP_OPTIONS: Omit<TftpServerOptions, "firmwareRoot"> = {
  address: "0.0.0.0",
  port: 69,
  // 1468 = 1500 MTU - 20 IP - 8 UDP - 4 TFTP; also the Pi 4/5 EEPROM's own maximum (rpi-eeprom release notes 2022-10).
  maxBlockSize: 1468,
  maxWindowSize: 64,
  // Pis mis-handle early retransmits (raspberrypi/firmware#1631): keep at least 1 s.
  retransmitTimeoutMs: 1000,
  maxRetransmits: 5,
  // The longest a transfer lives without progress, whatever the client negotiated. It covers the default
  // retransmit schedule (1, 2, 4, 8, 8 s: retransmissions up to 23 s): with 15 s, 1 to 2 of the 10 curl
  // transfers in tftpd-loss.test.ts (5% loss) were ended while curl was still waiting for its own timer.
  idleTimeoutMs: 30_000,
  maxTransfers: 512,
  // A Pi runs a few transfers at once (parallel RRQs, firmware#1700); this bounds a misbehaving one.
  maxTransfersPerClient: 16,
  unknownClients: "deny",
  cacheBytes: 256 * 1024 * 1024,
  workers: 0,
};
