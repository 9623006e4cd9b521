/** A TCP/UDP port number free on loopback right now, for servers a test starts on 127.0.0.1. */
import { createServer } from "node:net";

/** Asks the kernel for a free loopback port and releases it. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
