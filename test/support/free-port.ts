/** A TCP/UDP port number free on loopback right now, for servers a test starts on 127.0.0.1. */
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

/** Asks the kernel for a free loopback port and releases it. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A UDP port free on loopback right now (SNMP agents and trap receivers in tests and benches). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
