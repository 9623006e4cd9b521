/**
 * Run inside the bench namespace (`ip netns exec <ns> node --import tsx bench/scale/sockets-main.ts <rack.yaml>`):
 * starts pirack's DHCP server on every storage interface of the rack, as `serve` does (one SO_BINDTODEVICE socket
 * per eth0.N), times it, then times one read of every socket's kernel drop counter. Prints one JSON line.
 */
import { readFile } from "node:fs/promises";
import { pino } from "pino";
import { parseConfigText } from "../../appliance/config.ts";
import { dhcpScopes } from "../../appliance/boot-services.ts";
import { DeviceSocketNetwork, DhcpServer, systemClock } from "../../appliance/dhcpd/index.ts";
import { planRack } from "../../appliance/plan.ts";
import { MetricsRegistry } from "../../lib/metrics.ts";

const path = process.argv[2];
if (!path) throw new Error("usage: sockets-main.ts <rack.yaml>");
const parsed = parseConfigText(await readFile(path, "utf8"));
if (!parsed.ok) throw new Error(parsed.problems.join("; "));
const metrics = new MetricsRegistry();
const server = new DhcpServer({
  log: pino({ level: "warn" }, process.stderr),
  clock: systemClock,
  metrics,
  network: new DeviceSocketNetwork(),
  scopes: dhcpScopes(planRack(parsed.config)),
  settings: parsed.config.dhcp,
});
let t = performance.now();
await server.start();
const dhcpOpenMs = performance.now() - t;
const dhcpOpen = metrics.gauge("pirack_dhcp_interfaces_open", "").get();
t = performance.now();
server.sampleReceiveDrops();
const dropSampleMs = performance.now() - t;
await server.stop();
process.stdout.write(`${JSON.stringify({ dhcpOpenMs, dhcpOpen, dropSampleMs })}\n`);
