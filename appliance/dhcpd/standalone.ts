/**
 * Runs the DHCP server on its own, e.g. inside a network namespace for tests and the benchmark:
 *   ip netns exec NS node --import tsx appliance/dhcpd/standalone.ts '<json config>'
 * Config: { scopes: DhcpScope[], settings?, interfaceCheckMs?, retry?, logLevel?, events?: ("request"|"reply"|"interface")[] }.
 * Prints one JSON object per line on stdout: {"event":"ready"}, then the chosen server events. Reads JSON
 * commands on stdin: {"cmd":"metrics"} -> {"event":"metrics","text":...}, {"cmd":"scopes","scopes":[...]}
 * -> {"event":"scopes"}. SIGTERM/SIGINT stop it. It is a composition root like `appliance/main.ts`.
 */
import { createInterface } from "node:readline";
import { pino } from "pino";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { systemClock } from "../../lib/clock.ts";
import { DeviceSocketNetwork } from "./device-socket.ts";
import type { DhcpServerEvents } from "./events.ts";
import type { DhcpScope, DhcpSettings } from "./policy.ts";
import { DhcpServer } from "./server.ts";

interface StandaloneConfig {
  scopes: DhcpScope[];
  settings?: Partial<DhcpSettings>;
  interfaceCheckMs?: number;
  retry?: { initialMs: number; maxMs: number };
  logLevel?: string;
  events?: (keyof DhcpServerEvents)[];
}

const config = JSON.parse(process.argv[2] ?? "{}") as StandaloneConfig;
const print = (value: object): void => void process.stdout.write(`${JSON.stringify(value)}\n`);
const log = pino({ level: config.logLevel ?? "warn" }, pino.destination(2));
const metrics = new MetricsRegistry();
const server = new DhcpServer({
  log,
  clock: systemClock,
  metrics,
  network: new DeviceSocketNetwork(),
  scopes: config.scopes,
  ...(config.settings ? { settings: config.settings } : {}),
  ...(config.interfaceCheckMs ? { interfaceCheckMs: config.interfaceCheckMs } : {}),
  ...(config.retry ? { retry: config.retry } : {}),
});
for (const event of config.events ?? ["request", "reply", "interface"]) {
  server.on(event, (payload: object) => print({ event, ...payload }));
}

createInterface({ input: process.stdin }).on("line", (line) => {
  let command: { cmd?: string; scopes?: DhcpScope[] };
  try {
    command = JSON.parse(line) as typeof command;
  } catch {
    print({ event: "error", message: `not JSON: ${line.slice(0, 80)}` });
    return;
  }
  if (command.cmd === "metrics") print({ event: "metrics", text: metrics.render() });
  else if (command.cmd === "scopes" && command.scopes) void server.updateScopes(command.scopes).then(() => print({ event: "scopes" }));
  else print({ event: "error", message: `unknown command ${String(command.cmd)}` });
});

const shutdown = (): void => void server.stop().then(() => process.exit(0));
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

await server.start();
print({ event: "ready", pid: process.pid });
