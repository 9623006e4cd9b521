/**
 * pirack's db failover as it runs on the fileserver, in the rig's fileserver namespace: the controller polls
 * the db Pis, fences through a simulated PoE switch (switch/sim, the real qbridge driver over SNMP) and
 * promotes. PoE off of a db port kills that Pi's processes the moment the switch cuts power; PoE on boots it.
 * Prints one JSON line per event; reads commands ({"cmd":"rejoin","port":1}) on stdin.
 *   ip netns exec FS node --import tsx test/support/workloads-db-runner.ts '<RigSpec JSON>'
 */
import { createInterface } from "node:readline";
import pino from "pino";
import { Writable } from "node:stream";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { createSwitchDriver, type SwitchDriver } from "../../switch/index.ts";
import { SimulatedSwitch } from "../../switch/sim/index.ts";
import { DbFailoverController, httpProbe, mariadbClient, rejoinDb, type DbRecord, type DbTarget } from "../../workloads/failover/index.ts";
import { bootRigDb, powerOffRigDb, renderRigDb, setAsideRigDatadir, writeAdminOptionFile, type RigSpec } from "./workloads-db-rig.ts";

const spec = JSON.parse(process.argv[2]!) as RigSpec;
const t0 = Date.now();
const emit = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ t: Date.now() - t0, wall: Date.now(), ...o })}\n`);
const logStream = new Writable({ write: (c, _e, cb) => (String(c).split("\n").filter(Boolean).forEach((l) => emit({ event: "log", ...JSON.parse(l) })), cb()) });
const log = pino({ level: "info" }, logStream);

const sim = await SimulatedSwitch.start({ profile: "strict", ports: 24, address: "127.0.0.1", model: { timing: { detectMs: 20, linkMs: 30, learnMs: 10 } } });
const byPort = new Map(spec.dbs.map((d) => [d.port, d]));
sim.model.on("event", (e) => {
  if (e.kind !== "poe") return;
  const db = byPort.get(e.port);
  if (!db) return;
  if (e.detection === 1) emit({ event: "power lost", node: db.name, port: e.port, killed: powerOffRigDb(db) });
  if (e.detection === 3) {
    emit({ event: "power on", node: db.name, port: e.port });
    bootRigDb(spec, db).then(
      () => emit({ event: "booted", node: db.name }),
      (err: Error) => emit({ event: "boot failed", node: db.name, err: err.message }),
    );
  }
});
const driver = createSwitchDriver(
  { driver: "qbridge", host: "127.0.0.1", port: sim.address().port, snmp: { version: "2c", community: "private" }, poe: true, timeoutMs: 300, setTimeoutMs: 300, retries: 2, backoffMs: 10 },
  { log },
) as SwitchDriver;
// The switch owner's serialised queue: one power action at a time, as appliance/ does for the real switch.
let queue: Promise<unknown> = Promise.resolve();
const serial = <T>(fn: () => Promise<T>): Promise<T> => {
  const p = queue.then(fn, fn);
  queue = p.catch(() => undefined);
  return p;
};

const metrics = new MetricsRegistry();
const f = spec.workloads.db.failover;
const nodes: DbTarget[] = spec.dbs.map((d) => ({ name: d.name, port: d.port, address: d.storageAddress }));
const httpPoll = httpProbe({ healthPort: spec.workloads.db.healthPort, timeoutMs: f.timeoutMs });
const probe: typeof httpPoll = async (n) => {
  const t = Date.now();
  const h = await httpPoll(n);
  emit({ event: "poll", node: n.name, ms: Date.now() - t, role: h?.up ? h.role : h ? "down" : "no answer" });
  return h;
};
let saved: DbRecord | null = null;
const controller = new DbFailoverController({
  log,
  metrics,
  nodes,
  probe,
  sql: mariadbClient({ adminOptionFile: await writeAdminOptionFile(spec), dbPort: spec.workloads.db.port, timeoutMs: f.catchUpMs + 5000 }),
  fence: (port) => serial(async () => void (await driver.power(port, "off", { pollMs: 10, timeoutMs: 3000 }))),
  powerState: async (port) => {
    const s = (await driver.poeStatus()).ports.find((p) => p.port === port);
    if (!s) return "unknown";
    return !s.adminOn && s.detection !== "deliveringPower" ? "off" : "on";
  },
  store: { load: async () => saved, save: async (s) => void (saved = s) },
  initialPrimary: spec.workloads.db.primary ?? spec.dbs[0]!.name,
  policy: { enabled: f.enabled, fails: f.fails, replicaFails: f.replicaFails },
  intervalMs: f.intervalMs,
  catchUpMs: f.catchUpMs,
});

createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line) as { cmd: string; port?: number };
  if (cmd.cmd === "status") emit({ event: "status", status: controller.status(), metrics: metrics.render() });
  if (cmd.cmd === "rejoin") {
    rejoinDb(cmd.port!, {
      controller,
      nodes,
      setAsideDatadir: (n) => setAsideRigDatadir(byPort.get(n.port)!, String(Date.now())),
      renderAsReplica: (n, primary) => renderRigDb(spec, byPort.get(n.port)!, primary),
      powerOn: (port) => serial(async () => void (await driver.power(port, "on", { pollMs: 10, timeoutMs: 3000 }))),
      probe,
      timeoutMs: 120_000,
    }).then(
      (r) => emit({ event: "rejoin done", ...r }),
      (err: Error) => emit({ event: "rejoin failed", err: err.message }),
    );
  }
});

for (const db of spec.dbs) await renderRigDb(spec, db, spec.workloads.db.primary ?? spec.dbs[0]!.name);
await Promise.all(spec.dbs.map((db) => bootRigDb(spec, db).then(() => emit({ event: "booted", node: db.name }))));
await controller.start();
emit({ event: "ready" });
