/**
 * Standalone simulated PoE switch for the bench and CLI tests (the simulator's own composition root):
 *   node --import tsx switch/sim/main.ts --port 16100 --profile procurve --ports 24 \
 *     [--address 127.0.0.1] [--read-community public] [--write-community private] \
 *     [--v3-user name:authKey:privKey] [--trap host:port[:community]]
 * Prints one JSON line `{"msg":"listening",...}` on stdout once bound. Control commands arrive as JSON
 * lines on stdin: {"op":"plug","port":3} {"op":"unplug","port":3} {"op":"drop","times":2}
 * {"op":"reject","times":1,"status":14} {"op":"nonSticky","times":1} {"op":"state"}. SIGTERM/SIGINT stop it.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { SimulatedSwitch, type SimTrapTarget, type SimV3User } from "./agent.ts";
import { simPiMac } from "./model.ts";
import { simProfile, type SimProfileName } from "./profiles.ts";
import { portsOf } from "../port-list.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "16100" },
    address: { type: "string", default: "127.0.0.1" },
    profile: { type: "string", default: "generic" },
    ports: { type: "string", default: "24" },
    "read-community": { type: "string", default: "public" },
    "write-community": { type: "string", default: "private" },
    "v3-user": { type: "string", multiple: true, default: [] },
    trap: { type: "string", multiple: true, default: [] },
    "log-level": { type: "string", default: "warn" },
  },
});

const log = pino({ level: values["log-level"] }, pino.destination(2));
const profile = simProfile(values.profile).name as SimProfileName;
const v3Users: SimV3User[] = values["v3-user"].map((spec) => {
  const [name, authKey, privKey] = spec.split(":");
  if (!name || !authKey || !privKey) throw new Error(`--v3-user expects name:authKey:privKey, got ${JSON.stringify(spec.split(":")[0])}:...`);
  return { name, authKey, privKey };
});
const trapTargets: SimTrapTarget[] = values.trap.map((spec) => {
  const [host, port, community] = spec.split(":");
  if (!host || !port) throw new Error(`--trap expects host:port[:community], got ${JSON.stringify(spec)}`);
  return { host, port: Number(port), community: community ?? "public" };
});

const sim = await SimulatedSwitch.start({
  profile,
  ports: Number(values.ports),
  address: values.address,
  port: Number(values.port),
  readCommunity: values["read-community"],
  writeCommunity: values["write-community"],
  v3Users,
  trapTargets,
  log,
});
process.stdout.write(JSON.stringify({ msg: "listening", ...sim.address(), profile, ports: Number(values.ports) }) + "\n");

sim.model.on("event", (e) => process.stdout.write(JSON.stringify({ msg: "event", ...e }) + "\n"));

const state = (): unknown => ({
  ports: sim.model.ports.map((p) => ({ port: p.bridgePort, ifIndex: p.ifIndex, pvid: p.pvid, poe: p.poeAdmin, detection: p.detection, link: p.linkUp })),
  vlans: [...sim.model.vlans].map(([vid, v]) => ({ vid, name: v.name, egress: portsOf(v.egress), untagged: portsOf(v.untagged) })),
});

createInterface({ input: process.stdin }).on("line", (line) => {
  try {
    const cmd = JSON.parse(line) as { op: string; port?: number; times?: number; status?: number; mac?: string };
    const times = cmd.times ?? 1;
    if (cmd.op === "plug") sim.model.plug(cmd.port ?? 0, { mac: cmd.mac ?? simPiMac(cmd.port ?? 0), poweredDevice: true, powerClass: 5, milliwatts: 5200 });
    else if (cmd.op === "unplug") sim.model.unplug(cmd.port ?? 0);
    else if (cmd.op === "drop") sim.faults.drop(times);
    else if (cmd.op === "reject") sim.faults.reject(times, cmd.status ?? 14);
    else if (cmd.op === "nonSticky") sim.faults.nonSticky(times);
    else if (cmd.op === "state") process.stdout.write(JSON.stringify({ msg: "state", ...(state() as object) }) + "\n");
    else throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
  } catch (err) {
    log.warn({ err }, "control command refused");
  }
});

const stop = (): void => {
  void sim.close().then(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
