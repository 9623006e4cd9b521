/**
 * The Q-BRIDGE driver against the simulated PoE switch on loopback, checked with the Net-SNMP command line
 * tools (snmpget/snmpwalk/snmpset from Debian's `snmp` package) as the independent peer. No namespaces: every
 * agent and receiver binds 127.0.0.1 on a free high port.
 */
import { Writable } from "node:stream";
import { execa } from "execa";
import { pino } from "pino";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { afterEach, describe, expect, it } from "vitest";
import { createSwitchDriver, rackSwitchState, SwitchMonitor, type SwitchConfig, type SwitchDriver, type SwitchEvent } from "../../switch/index.ts";
import { SimulatedSwitch } from "../../switch/sim/index.ts";
import { parsePortListText, portsOf } from "../../switch/port-list.ts";
import type { SimProfile, SimProfileName } from "../../switch/sim/index.ts";
import { freeUdpPort } from "../support/free-port.ts";

const v3 = { name: "pirack", authKey: "auth-secret-1234", privKey: "priv-secret-5678" };
const seed = rackSwitchState({ piPorts: [{ port: 1, vlan: 10, poe: true }, { port: 2, vlan: 11, poe: true }], publicVlan: 131, uplinkPort: 24 });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function memoryLog(): { log: pino.Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) });
  return { log: pino({ level: "debug" }, stream), text: () => chunks.join("") };
}

const freePort = freeUdpPort;

async function rig(profile: SimProfileName, opts: { v3?: boolean; driverProfile?: SwitchConfig["profile"]; trapPort?: number; profileOverrides?: Partial<SimProfile> } = {}) {
  const sim = await SimulatedSwitch.start({
    profile,
    profileOverrides: opts.profileOverrides,
    ports: 24,
    v3Users: [v3],
    trapTargets: opts.trapPort ? [{ host: "127.0.0.1", port: opts.trapPort, community: "traps" }] : [],
  });
  cleanups.push(() => sim.close());
  // An operator's VLAN pirack must not touch: ports 23 and 24 tagged.
  sim.model.addVlan(200, "ops", [23, 24], []);
  const { port } = sim.address();
  const mem = memoryLog();
  const config: SwitchConfig = {
    driver: "qbridge",
    host: "127.0.0.1",
    port,
    snmp: opts.v3 ? { version: "3", user: v3.name, authKey: v3.authKey, privKey: v3.privKey } : { version: "2c", community: "private" },
    poe: true,
    profile: opts.driverProfile,
    timeoutMs: 300,
    setTimeoutMs: 300,
    retries: 2,
    backoffMs: 10,
  };
  const metrics = new MetricsRegistry();
  const driver = createSwitchDriver(config, { log: mem.log, metrics }) as SwitchDriver;
  cleanups.push(() => driver.close());
  return { sim, driver, port, mem, metrics };
}

const cli = async (tool: "snmpget" | "snmpwalk" | "snmpset", port: number, args: string[], auth: "v2c" | "v3" = "v2c") => {
  const a = auth === "v3" ? ["-v3", "-l", "authPriv", "-u", v3.name, "-a", "SHA", "-A", v3.authKey, "-x", "AES", "-X", v3.privKey] : ["-v2c", "-c", tool === "snmpset" ? "private" : "public"];
  return execa(tool, [...a, "-On", "-t", "2", "-r", "1", `127.0.0.1:${port}`, ...args], { env: { MIBS: "" }, reject: false });
};

/** Reads a VLAN's static egress/untagged ports and PortList lengths with snmpget. */
async function vlanByCli(port: number, vid: number, auth: "v2c" | "v3" = "v2c") {
  const r = await cli("snmpget", port, [`1.3.6.1.2.1.17.7.1.4.3.1.2.${vid}`, `1.3.6.1.2.1.17.7.1.4.3.1.4.${vid}`], auth);
  expect(r.exitCode, r.stderr).toBe(0);
  const [egress, untagged] = r.stdout.split("\n").map((l) => parsePortListText(l.replace(/^[.\d]+ = /, "")));
  return { egress: portsOf(egress as Buffer), untagged: portsOf(untagged as Buffer), octets: (egress as Buffer).length };
}

const profiles: [SimProfileName, boolean][] = [
  ["generic", false],
  ["strict", true],
  ["procurve", false],
];

describe("apply the seed rack to the simulated switch", () => {
  it.each(profiles)("profile %s: VLANs, PVIDs and PoE as the seed says, other bits untouched, idempotent", async (profile, stepwise) => {
    const { sim, driver, port } = await rig(profile);
    const vlan1Before = Buffer.from(sim.model.vlans.get(1)?.egress ?? []);
    const result = await driver.apply(seed);
    expect(result.usedStepwise).toBe(stepwise);
    expect(result.rounds).toBe(1);
    expect(result.changes).toContainEqual({ kind: "createVlan", vid: 131, name: "pirack-public" });

    expect(await vlanByCli(port, 10)).toMatchObject({ egress: [1, 24], untagged: [1] });
    expect(await vlanByCli(port, 11)).toMatchObject({ egress: [2, 24], untagged: [2] });
    expect(await vlanByCli(port, 131)).toMatchObject({ egress: [1, 2], untagged: [] });
    const pvid = await cli("snmpget", port, ["1.3.6.1.2.1.17.7.1.4.5.1.1.1", "1.3.6.1.2.1.17.7.1.4.5.1.1.2", "1.3.6.1.2.1.17.7.1.4.5.1.1.24"]);
    expect(pvid.stdout).toMatch(/\.1\.1 = Gauge32: 10\n.*\.1\.2 = Gauge32: 11\n.*\.1\.24 = Gauge32: 1$/);
    const poeIndex = (p: number) => (profile === "procurve" ? p : p); // group 1, index = bridge port = ifIndex on procurve
    const poe = await cli("snmpget", port, [`1.3.6.1.2.1.105.1.1.1.3.1.${poeIndex(1)}`, `1.3.6.1.2.1.105.1.1.1.3.1.${poeIndex(2)}`]);
    expect(poe.stdout.match(/INTEGER: 1/g)).toHaveLength(2);

    // Not ours: VLAN 1 keeps every other bit (incl. the procurve filler bits past port 24), VLAN 200 unchanged.
    const vlan1 = await vlanByCli(port, 1);
    expect(vlan1.egress).toEqual(portsOf(vlan1Before).filter((p) => p !== 1 && p !== 2));
    expect(vlan1.octets).toBe(vlan1Before.length);
    expect(await vlanByCli(port, 200)).toMatchObject({ egress: [23, 24], untagged: [] });

    const setsBefore = sim.faults.seen.set;
    const again = await driver.apply(seed);
    expect(again).toMatchObject({ changes: [], setRequests: 0, rounds: 0 });
    expect(sim.faults.seen.set).toBe(setsBefore);
  });

  it("works over SNMPv3 authPriv and never logs the secrets", async () => {
    const { driver, port, mem } = await rig("generic", { v3: true });
    const result = await driver.apply(seed);
    expect(result.setRequests).toBeGreaterThan(0);
    expect(await vlanByCli(port, 10, "v3")).toMatchObject({ egress: [1, 24], untagged: [1] });
    expect(mem.text()).toContain("switch discovered");
    expect(mem.text()).not.toContain(v3.authKey);
    expect(mem.text()).not.toContain(v3.privKey);
  });
});

describe("ambiguous PoE map", () => {
  it("VLANs are still applied, PoE actions are refused", async () => {
    // ifIndex = port + 1 and PSE ports 2-24: the PSE indexes fit both ifIndex and bridge port numbers.
    const { driver, port } = await rig("generic", { profileOverrides: { ifIndexOf: (p) => p + 1, poeIndexOf: (p) => (p === 1 ? null : { group: 1, port: p }) } });
    expect((await driver.discover()).poeProblem).toMatch(/ambiguous/);
    await driver.apply(seed);
    expect(await vlanByCli(port, 10)).toMatchObject({ egress: [1, 24], untagged: [1] });
    await expect(driver.power(2, "cycle")).rejects.toMatchObject({ code: "SWITCH_POE_UNAVAILABLE" });
  });
});

describe("ProCurve quirk: a PVID change leaves the old VLAN tagged", () => {
  const moved = rackSwitchState({ piPorts: [{ port: 1, vlan: 12 }, { port: 2, vlan: 11 }], publicVlan: 131, uplinkPort: 24 });

  it("with the procurve profile the move is right in one write round", async () => {
    const { driver, port } = await rig("procurve");
    await driver.apply(seed);
    const r = await driver.apply(moved);
    expect(r.rounds).toBe(1);
    expect(await vlanByCli(port, 10)).toMatchObject({ egress: [24], untagged: [] });
    expect(await vlanByCli(port, 12)).toMatchObject({ egress: [1, 24], untagged: [1] });
  });

  it("a driver unaware of the quirk is caught by the read-back and repairs it in a second round", async () => {
    const { driver, port } = await rig("procurve", { driverProfile: "generic" });
    await driver.apply(seed);
    const r = await driver.apply(moved);
    expect(r.rounds).toBe(2);
    expect(await vlanByCli(port, 10)).toMatchObject({ egress: [24], untagged: [] });
  });
});

describe("faults", () => {
  it("retries timed-out requests", async () => {
    const { sim, driver } = await rig("generic");
    sim.faults.drop(2, { kind: "set" });
    const r = await driver.apply(seed);
    expect(sim.faults.injected.dropped).toBe(2);
    expect(r.rounds).toBe(1);
  });

  it("a SET answered after the timeout is retried; the duplicate SET is harmless (absolute values)", async () => {
    const { sim, driver, port } = await rig("generic");
    sim.faults.delay(1, 600, { kind: "set" }); // longer than setTimeoutMs 300: answered, but too late
    const r = await driver.apply(seed);
    expect(sim.faults.injected.delayed).toBe(1);
    expect(r.rounds).toBe(1);
    expect(await vlanByCli(port, 10)).toMatchObject({ egress: [1, 24], untagged: [1] });
  });

  it("a VLAN row left notInService by an interrupted createAndWait is activated", async () => {
    const { driver, port } = await rig("strict");
    const wait = await cli("snmpset", port, ["1.3.6.1.2.1.17.7.1.4.3.1.5.10", "i", "5"]);
    expect(wait.exitCode, wait.stderr).toBe(0);
    const r = await driver.apply(seed);
    expect(r.changes).toContainEqual({ kind: "activateVlan", vid: 10 });
    const status = await cli("snmpget", port, ["1.3.6.1.2.1.17.7.1.4.3.1.5.10"]);
    expect(status.stdout).toMatch(/INTEGER: 1$/);
    expect(await vlanByCli(port, 10)).toMatchObject({ egress: [1, 24], untagged: [1] });
  });

  it("gives up with SNMP_TIMEOUT when the switch stays silent", async () => {
    const { sim, driver } = await rig("generic");
    await driver.discover();
    sim.faults.drop(100);
    await expect(driver.apply(seed)).rejects.toMatchObject({ code: "SNMP_TIMEOUT" });
  });

  it("falls back to the stepwise order when the one-PDU SET is refused", async () => {
    const { sim, driver, port } = await rig("generic");
    sim.faults.reject(1, 14, { minVarbinds: 2 });
    const r = await driver.apply(seed);
    expect(r.usedStepwise).toBe(true);
    expect(await vlanByCli(port, 11)).toMatchObject({ egress: [2, 24], untagged: [2] });
  });

  it("rewrites a SET that did not stick, and reports one that never sticks", async () => {
    const { sim, driver } = await rig("generic");
    sim.faults.nonSticky(1);
    expect((await driver.apply(seed)).rounds).toBe(2);
    const other = await rig("generic");
    other.sim.faults.nonSticky(100);
    await expect(other.driver.apply(seed)).rejects.toMatchObject({ code: "SWITCH_VERIFY_FAILED" });
  });
});

describe("power and events", () => {
  it.each([
    ["linkUp/linkDown traps", true],
    ["polling alone", false],
  ])("a power cycle shows PoE off, link down, PoE on, link up in order (%s)", async (_name, traps) => {
    const trapPort = await freePort();
    const { driver } = await rig("generic", { trapPort });
    const { log } = memoryLog();
    // With traps, polling is slow, so the events can only arrive this quickly through the traps.
    const trap = traps ? { address: "127.0.0.1", port: trapPort, credentials: { version: "2c" as const, community: "traps" } } : undefined;
    const monitor = new SwitchMonitor(driver, { pollMs: traps ? 5000 : 15, log, trap });
    await monitor.start();
    cleanups.push(() => monitor.stop());
    const seen: SwitchEvent[] = [];
    const linkUp = new Promise<void>((resolve) =>
      monitor.on("event", (e) => {
        if (e.port !== 1) return;
        seen.push(e);
        if (e.kind === "link" && e.up && seen.some((s) => s.kind === "poe" && s.detection === "deliveringPower")) resolve();
      }),
    );
    const steps = await driver.power(1, "cycle", { offHoldMs: 50, pollMs: 10, timeoutMs: 5000 });
    expect(steps.map((s) => s.step)).toEqual(["poeOff", "linkDown", "poeOn", "deliveringPower"]);
    await linkUp;
    const order = seen.map((e) => (e.kind === "link" ? `link ${e.up ? "up" : "down"}` : `poe ${e.detection}`)).filter((s, i, a) => s !== a[i - 1]);
    const firstOf = (s: string) => order.indexOf(s);
    expect(firstOf("poe disabled")).toBeGreaterThanOrEqual(0);
    expect(firstOf("poe disabled")).toBeLessThan(firstOf("link down"));
    expect(firstOf("link down")).toBeLessThan(firstOf("poe deliveringPower"));
    expect(firstOf("poe deliveringPower")).toBeLessThan(order.lastIndexOf("link up"));
    expect(seen.some((e) => e.kind === "link" && e.source === "trap")).toBe(traps);
  });

  it("reads PoE status, PSE budget and the FDB; the CLI sees PoE off after power off", async () => {
    const { driver, port, metrics } = await rig("procurve");
    await driver.observe();
    expect(metrics.render()).toContain('pirack_switch_port_poe_delivering{port="1"} 1');
    expect(metrics.render()).toContain("pirack_switch_pse_budget_watts 195");
    expect(metrics.render()).toMatch(/pirack_switch_snmp_requests_total\{op="getbulk",result="ok"\} \d+/);
    const before = await driver.poeStatus();
    expect(before.pse).toMatchObject({ budgetWatts: 195, operStatus: "on" });
    expect(before.ports.find((p) => p.port === 1)).toMatchObject({ adminOn: true, detection: "deliveringPower", powerClass: 4 });
    expect(before.ports.find((p) => p.port === 1)?.watts).toBeGreaterThan(5);
    const fdb = await driver.readFdb();
    expect(fdb).toContainEqual({ mac: "d8:3a:dd:00:00:01", vlan: 1, port: 1, ifIndex: 1 });
    await driver.power(1, "off", { pollMs: 10, timeoutMs: 5000 });
    const r = await cli("snmpget", port, ["1.3.6.1.2.1.105.1.1.1.3.1.1", "1.3.6.1.2.1.105.1.1.1.6.1.1", "1.3.6.1.2.1.2.2.1.8.1"]);
    expect(r.stdout.split("\n").map((l) => l.split(" = ")[1])).toEqual(["INTEGER: 2", "INTEGER: 1", "INTEGER: 2"]);
  });
});

describe("the simulator speaks to the Net-SNMP tools", () => {
  it("v2c and v3 walks, typed SETs, access control", async () => {
    const { port } = await rig("strict");
    const walk = await cli("snmpwalk", port, ["1.3.6.1.2.1.17.1.4.1.2"]);
    expect(walk.stdout.split("\n")).toHaveLength(24);
    expect(walk.stdout).toContain(".1.3.6.1.2.1.17.1.4.1.2.3 = INTEGER: 1003");
    const v3walk = await cli("snmpwalk", port, ["1.3.6.1.2.1.105.1.1.1.6"], "v3");
    expect(v3walk.stdout.split("\n")).toHaveLength(23 + 1);
    const wrongType = await cli("snmpset", port, ["1.3.6.1.2.1.17.7.1.4.5.1.1.1", "i", "1"]);
    expect(wrongType.stderr).toContain("wrongType");
    const ro = await execa("snmpset", ["-v2c", "-c", "public", "-On", "127.0.0.1:" + port, "1.3.6.1.2.1.105.1.1.1.3.1.1", "i", "2"], { env: { MIBS: "" }, reject: false });
    expect(ro.stderr).toContain("noAccess");
    const createGo = await cli("snmpset", port, ["1.3.6.1.2.1.17.7.1.4.3.1.5.300", "i", "4"], "v3");
    expect(createGo.stderr).toContain("wrongValue"); // strict profile: createAndWait only
    const untaggedFirst = await cli("snmpset", port, ["1.3.6.1.2.1.17.7.1.4.3.1.4.200", "x", "000040"], "v3");
    expect(untaggedFirst.stderr).toContain("inconsistentValue"); // untagged before egress
    const shortList = await cli("snmpset", port, ["1.3.6.1.2.1.17.7.1.4.3.1.2.200", "x", "00"], "v3");
    expect(shortList.stderr).toContain("wrongLength");
  });
});

describe("one write queue per switch", () => {
  it("never interleaves a power cycle with a VLAN push", async () => {
    const { sim, driver } = await rig("generic");
    // Every SET the agent accepted, in arrival order, as PoE or VLAN.
    const sets: string[] = [];
    sim.model.on("event", (e) => {
      if (e.kind !== "set") return;
      for (const oid of e.oids) sets.push(oid.startsWith("1.3.6.1.2.1.105.") ? "poe" : "vlan");
    });
    // The cycle takes the queue first (off, hold, on); the push asked for during the hold must wait for it.
    const cycle = driver.power(1, "cycle", { offHoldMs: 300, pollMs: 10, timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    const push = driver.apply(seed);
    await Promise.all([cycle, push]);
    const kinds = sets.filter((k, i) => k !== sets[i - 1]);
    // poe off, poe on (the cycle), then the VLAN push (whose own PoE writes, if any, come after its VLAN SETs).
    expect(kinds.slice(0, 2)).toEqual(["poe", "vlan"]);
    expect(sets.slice(0, 2)).toEqual(["poe", "poe"]);
  });
});

