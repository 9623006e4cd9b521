/**
 * The bench rack's PoE switch (its own composition root, run inside the switch namespace):
 *   node --import tsx bench/rack/switch-main.ts --address 100.64.255.10 --port 161 --ports 24 --uplink 24 \
 *     --profile procurve --pi 1=dc:a6:32:be:00:01 ... --log switch.log
 * A real SNMP agent (switch/sim) on the management address. Every Pi port starts with PoE off and its Pi plugged
 * in, so Pis get power only when pirack turns PoE on. Stdout carries one JSON line per fact the wiring needs:
 * `{"msg":"listening"}`, `{"msg":"vlans","ports":[{port,pvid,untagged,tagged}]}` (at start and after every SET
 * that changed membership), `{"msg":"poe","port":3,"powered":true}`. The log file gets every SET and event.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { SimulatedSwitch } from "../../switch/sim/index.ts";
import { Detection, detectionName } from "../../switch/oids.ts";
import { portsOf } from "../../switch/port-list.ts";
import type { PortVlans } from "./ovs-ports.ts";

const { values } = parseArgs({
  options: {
    address: { type: "string", default: "100.64.255.10" },
    port: { type: "string", default: "161" },
    ports: { type: "string", default: "24" },
    uplink: { type: "string", default: "24" },
    profile: { type: "string", default: "procurve" },
    pi: { type: "string", multiple: true, default: [] },
    log: { type: "string" },
  },
});

const log = pino({ level: "debug" }, values.log ? pino.destination({ dest: values.log, sync: true }) : pino.destination(2));
const pis = values.pi.map((spec) => {
  const m = /^(\d+)=([0-9a-f:]{17})$/.exec(spec);
  if (!m) throw new Error(`--pi expects PORT=MAC, got ${JSON.stringify(spec)}`);
  return { port: Number(m[1]), mac: m[2] as string };
});
const ports = Number(values.ports);
const uplink = Number(values.uplink);

const sim = await SimulatedSwitch.start({
  profile: values.profile === "generic" ? "generic" : "procurve",
  ports,
  address: values.address,
  port: Number(values.port),
  log,
  // PoE detection and classification take about half a second on a real PSE; the PHY comes up after it.
  model: { piPorts: [], uplinkPort: uplink, timing: { detectMs: 400, linkMs: 300, learnMs: 50 } },
});
const model = sim.model;
for (const pi of pis) {
  const port = model.port(pi.port);
  if (!port) throw new Error(`--pi ${pi.port}: the switch has ports 1-${ports}`);
  model.setPoeAdmin(port, false);
  model.plug(pi.port, { mac: pi.mac, poweredDevice: true, powerClass: 5, milliwatts: 5100 + 37 * pi.port });
}

const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

/** Per port: PVID and egress membership of the active static VLANs. */
function portVlans(): PortVlans[] {
  const members = [...model.vlans].filter(([, v]) => v.rowStatus === 1).map(([vid, v]) => ({ vid, egress: new Set(portsOf(v.egress)), untagged: new Set(portsOf(v.untagged)) }));
  return model.ports.map((p) => ({
    port: p.bridgePort,
    pvid: p.pvid,
    untagged: members.filter((v) => v.untagged.has(p.bridgePort)).map((v) => v.vid),
    tagged: members.filter((v) => v.egress.has(p.bridgePort) && !v.untagged.has(p.bridgePort)).map((v) => v.vid),
  }));
}

let lastVlans = "";
const publishVlans = (): void => {
  const vlans = portVlans();
  const text = JSON.stringify(vlans);
  if (text === lastVlans) return;
  lastVlans = text;
  out({ msg: "vlans", ports: vlans });
};

model.on("event", (e) => {
  if (e.kind === "set") {
    log.info({ oids: e.oids }, "snmp set applied");
    publishVlans();
  } else if (e.kind === "poe") {
    log.info({ port: e.port, detection: detectionName(e.detection) }, "poe detection changed");
    out({ msg: "poe", port: e.port, powered: e.detection === Detection.deliveringPower });
  } else if (e.kind === "link") log.info({ port: e.port, up: e.up }, "link changed");
  else log.debug({ port: e.port, mac: e.mac, learned: e.learned }, "fdb changed");
});

publishVlans();
out({ msg: "listening", ...sim.address() });
log.info({ ...sim.address(), ports, uplink, pis: pis.length }, "switch listening");

const stop = (): void => {
  void sim.close().then(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
