/**
 * Storm worker: boots a share of the storm's protocol Pis in this one process (each Pi's sockets are made in its
 * own network namespace, bench/pi/net.ts). Prints `{"ready":true}` once loaded, waits for "go" on stdin (the
 * PoE rail switching on for every Pi at once), then one JSON line per Pi stage: `{"port", "goAt", ...event}`.
 *   node --import tsx bench/storm/worker.ts '<json: {pis: [{port, model, serial, mac, netns}], timeoutS, fileTimeoutS}>'
 */
import { createInterface } from "node:readline";
import { bootPi, type PiModel } from "../pi/index.ts";

interface WorkerPi {
  readonly port: number;
  readonly model: PiModel;
  readonly serial: string;
  readonly mac: string;
  readonly netns: string;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as { pis: WorkerPi[]; timeoutS: number; fileTimeoutS: number };
const write = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

const go = new Promise<void>((resolve) => {
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line.trim() === "go") resolve();
  });
});
write({ ready: true, pis: spec.pis.length });
await go;
const goAt = Date.now();
await Promise.all(
  spec.pis.map((pi) =>
    bootPi({
      model: pi.model,
      serial: pi.serial,
      mac: pi.mac,
      link: { ifname: "eth0", netns: pi.netns },
      timeoutMs: spec.timeoutS * 1000,
      fileTimeoutMs: spec.fileTimeoutS * 1000,
      onStage: (event) => write({ port: pi.port, goAt, ...event }),
    }),
  ),
);
process.exit(0);
