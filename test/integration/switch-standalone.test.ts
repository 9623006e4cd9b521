/**
 * The standalone simulator process (what the bench and the CLI tests start) read with the Net-SNMP tools,
 * SNMPv3 traps into the monitor, and the failure modes an outage or a bad key produce. Loopback only.
 */
import { createInterface } from "node:readline";
import { execa } from "execa";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createSwitchDriver, rackSwitchState, SwitchMonitor, type SwitchDriver, type SwitchEvent } from "../../switch/index.ts";
import { SimulatedSwitch } from "../../switch/sim/index.ts";
import { freeUdpPort } from "../support/free-port.ts";

const silent = pino({ level: "silent" });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const freePort = freeUdpPort;

const snmpget = (port: number, ...oids: string[]) =>
  execa("snmpget", ["-v2c", "-c", "public", "-On", "-t", "2", "-r", "1", `127.0.0.1:${port}`, ...oids], { env: { MIBS: "" }, reject: false });

describe("standalone simulator (node --import tsx switch/sim/main.ts)", () => {
  it("starts, answers snmpget/snmpwalk, obeys control lines, stops on SIGTERM", async () => {
    const port = await freePort();
    const child = execa("node", ["--import", "tsx", "switch/sim/main.ts", "--port", String(port), "--profile", "procurve", "--ports", "24"], {
      cwd: new URL("../..", import.meta.url).pathname,
      stdin: "pipe",
      reject: false,
    });
    cleanups.push(async () => {
      child.kill("SIGKILL");
      await child;
    });
    const lines = createInterface({ input: child.stdout });
    const next = (pred: (o: Record<string, unknown>) => boolean) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no matching line from the simulator")), 15_000);
        const on = (line: string) => {
          const o = JSON.parse(line) as Record<string, unknown>;
          if (pred(o)) {
            clearTimeout(t);
            lines.off("line", on);
            resolve(o);
          }
        };
        lines.on("line", on);
      });
    expect(await next((o) => o.msg === "listening")).toMatchObject({ port, profile: "procurve", ports: 24 });

    const r = await snmpget(port, "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.17.7.1.4.3.1.2.1", "1.3.6.1.2.1.2.2.1.8.3");
    expect(r.stdout).toContain("OID: .1.3.6.1.4.1.11.2.3.7.11.137");
    expect(r.stdout).toContain("Hex-STRING: FF FF FF FF FF FF FF FF FF FF FF FF F8 00 00 00");
    expect(r.stdout).toMatch(/\.8\.3 = INTEGER: 1$/);

    const linkDown = next((o) => o.msg === "event" && o.kind === "link" && o.port === 3 && o.up === false);
    child.stdin?.write(JSON.stringify({ op: "unplug", port: 3 }) + "\n");
    await linkDown;
    expect((await snmpget(port, "1.3.6.1.2.1.2.2.1.8.3")).stdout).toMatch(/INTEGER: 2$/);

    const state = next((o) => o.msg === "state");
    child.stdin?.write(JSON.stringify({ op: "state" }) + "\n");
    expect(((await state).vlans as unknown[])[0]).toMatchObject({ vid: 1, name: "DEFAULT_VLAN" });

    child.kill("SIGTERM");
    expect((await child).exitCode).toBe(0);
  });
});

describe("SNMPv3 traps and failure modes", () => {
  const user = { name: "pirack", authKey: "auth-secret-1234", privKey: "priv-secret-5678" };

  it("an SNMPv3 authPriv linkDown trap reaches the monitor", async () => {
    const trapPort = await freePort();
    const sim = await SimulatedSwitch.start({ profile: "generic", ports: 8, v3Users: [user], trapTargets: [{ host: "127.0.0.1", port: trapPort, user }] });
    cleanups.push(() => sim.close());
    const driver = createSwitchDriver(
      { driver: "qbridge", host: "127.0.0.1", port: sim.address().port, snmp: { version: "3", user: user.name, authKey: user.authKey, privKey: user.privKey }, poe: true, timeoutMs: 500 },
      { log: silent },
    ) as SwitchDriver;
    cleanups.push(() => driver.close());
    const monitor = new SwitchMonitor(driver, { pollMs: 60_000, log: silent, trap: { address: "127.0.0.1", port: trapPort, credentials: { version: "3", user: user.name, authKey: user.authKey, privKey: user.privKey } } });
    await monitor.start();
    cleanups.push(() => monitor.stop());
    const got = new Promise<SwitchEvent>((resolve) => monitor.on("event", (e) => e.kind === "link" && resolve(e)));
    sim.model.unplug(2);
    expect(await got).toEqual({ kind: "link", port: 2, up: false, source: "trap" });
  });

  // snmpd answers a wrong digest with a usmStatsWrongDigests report (SNMP_AUTH_FAILED, see snmp-client.test.ts);
  // the net-snmp agent under the simulator drops the message, so here it looks like a dead switch.
  it("a wrong SNMPv3 key is refused: no answer, typed SNMP_TIMEOUT", async () => {
    const sim = await SimulatedSwitch.start({ profile: "generic", ports: 8, v3Users: [user] });
    cleanups.push(() => sim.close());
    const driver = createSwitchDriver(
      { driver: "qbridge", host: "127.0.0.1", port: sim.address().port, snmp: { version: "3", user: user.name, authKey: "not-the-key-0000", privKey: user.privKey }, poe: true, timeoutMs: 200, retries: 0 },
      { log: silent },
    ) as SwitchDriver;
    cleanups.push(() => driver.close());
    await expect(driver.discover()).rejects.toMatchObject({ code: "SNMP_TIMEOUT" });
    expect(sim.faults.seen.get).toBe(0); // never reached the request handler
  });

  it("a dead switch costs a bounded time and a typed error, never a hang", async () => {
    const port = await freePort(); // nothing listens here
    const driver = createSwitchDriver(
      { driver: "qbridge", host: "127.0.0.1", port, snmp: { version: "2c", community: "private" }, poe: true, timeoutMs: 100, retries: 2, backoffMs: 10 },
      { log: silent },
    ) as SwitchDriver;
    cleanups.push(() => driver.close());
    const seed = rackSwitchState({ piPorts: [{ port: 1, vlan: 10 }], publicVlan: 131, uplinkPort: 8 });
    const t0 = performance.now();
    await expect(driver.apply(seed)).rejects.toMatchObject({ code: "SNMP_TIMEOUT" });
    // 3 attempts x 100 ms + 10 + 20 ms pauses; generous bound for a loaded CI machine.
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("driver none manages nothing", () => {
    expect(createSwitchDriver({ driver: "none", host: "", snmp: { version: "2c", community: "" }, poe: false }, { log: silent })).toBeNull();
  });
});
