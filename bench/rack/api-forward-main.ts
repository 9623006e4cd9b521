/**
 * Forwards a unix socket to pirack's API inside the fileserver namespace (its own composition root):
 *   ip netns exec FS node --import tsx bench/rack/api-forward-main.ts --unix /var/tmp/.../api.sock --to 127.0.0.1:8067
 * A unix socket lives in the file system, not in a network namespace, so the bench process (and only it, through
 * its loopback listener) reaches the API without a single address or route added to the root namespace.
 * Prints `{"msg":"listening"}` once bound.
 */
import { connect, createServer } from "node:net";
import { rm } from "node:fs/promises";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { unix: { type: "string" }, to: { type: "string", default: "127.0.0.1:8067" } } });
const unix = values.unix;
const m = /^(.+):(\d+)$/.exec(values.to);
if (!unix || !m) throw new Error(`usage: --unix PATH --to HOST:PORT (got --unix ${String(unix)} --to ${values.to})`);
const [host, port] = [m[1] as string, Number(m[2])];

await rm(unix, { force: true });
const server = createServer((client) => {
  const upstream = connect(port, host);
  client.pipe(upstream).pipe(client);
  // A refused or reset connection ends both sides; the API may not be up yet.
  upstream.on("error", () => client.destroy());
  client.on("error", () => upstream.destroy());
});
server.listen(unix, () => process.stdout.write(`${JSON.stringify({ msg: "listening", unix })}\n`));
const stop = (): void => void server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
