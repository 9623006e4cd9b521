/**
 * Benchmark server process: pirack's TftpServer on loopback, every address treated as one Pi.
 * Prints `{"type":"listening","port":N}`. Reads commands on stdin: `stats` prints
 * `{"type":"stats","completed":N,"windowSizes":{"16":N,...},"blockSizes":{...}}` for the transfers
 * completed since the last `stats` (so the bench can check what was negotiated); `stop` or end of input stops it.
 *
 * argv: firmware-dir port [workers]
 */
import { createInterface } from "node:readline";
import pino from "pino";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { TftpServer } from "../../appliance/tftpd/index.ts";

const [root = ".", port = "16969", workers = "0"] = process.argv.slice(2);
const server = new TftpServer(
  // The bench's clients all come from 127.0.0.1: lift the per-client cap above the largest storm.
  { firmwareRoot: root, address: "127.0.0.1", port: Number(port), maxTransfersPerClient: 1000, maxTransfers: 1000, workers: Number(workers) },
  {
    log: pino({ level: "warn" }, pino.destination(2)),
    metrics: new MetricsRegistry(),
    resolvePi: () => ({ port: 1, serial: "0660cd37", cmdline: "console=ttyAMA0\n", config: "arm_64bit=1\n" }),
  },
);
let stats = { completed: 0, other: 0, windowSizes: {} as Record<string, number>, blockSizes: {} as Record<string, number> };
server.on("transfer", (e) => {
  if (e.kind === "complete") {
    stats.completed++;
    stats.windowSizes[e.windowSize] = (stats.windowSizes[e.windowSize] ?? 0) + 1;
    stats.blockSizes[e.blockSize] = (stats.blockSizes[e.blockSize] ?? 0) + 1;
  } else if (e.kind === "abort" || e.kind === "timeout" || e.kind === "refused") stats.other++;
});
await server.start();
process.stdout.write(JSON.stringify({ type: "listening", port: server.address().port }) + "\n");
const stop = async () => {
  await server.stop();
  process.exit(0);
};
createInterface({ input: process.stdin })
  .on("line", (l) => {
    const cmd = l.trim();
    if (cmd === "stop") void stop();
    if (cmd === "stats") {
      process.stdout.write(JSON.stringify({ type: "stats", ...stats }) + "\n");
      stats = { completed: 0, other: 0, windowSizes: {}, blockSizes: {} };
    }
  })
  .on("close", () => void stop());
