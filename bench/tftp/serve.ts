/**
 * Benchmark server process: pirack's TftpServer on loopback, every address treated as one Pi.
 * Prints `{"type":"listening","port":N}`; stdin `stop` or end of input stops it.
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
await server.start();
process.stdout.write(JSON.stringify({ type: "listening", port: server.address().port }) + "\n");
const stop = async () => {
  await server.stop();
  process.exit(0);
};
createInterface({ input: process.stdin })
  .on("line", (l) => l.trim() === "stop" && void stop())
  .on("close", () => void stop());
