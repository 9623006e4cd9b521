/**
 * A switch outage against a running `pirack serve` (issue: API under faults): while the simulated switch answers
 * nothing, `GET /api/v1/reconcile` answers at once from what is known and says the switch is unreachable; once it
 * answers again, pirack notices through its monitor and repairs drift at once instead of waiting for the 60 s timer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { SimulatedSwitch } from "../../switch/sim/index.ts";
import { freePort } from "../support/free-port.ts";

const pirack = new URL("../../bin/pirack.mjs", import.meta.url).pathname;
// Q-BRIDGE dot1qPvid of bridge port 1; POWER-ETHERNET-MIB pethPsePortAdminEnable of group 1 port 1 (1 on, 2 off).
const PVID_1 = "1.3.6.1.2.1.17.7.1.4.5.1.1.1";
const POE_1 = "1.3.6.1.2.1.105.1.1.1.3.1.1";
let sim: SimulatedSwitch;
let dir: string;
let config: string;

const snmp = (tool: "snmpget" | "snmpset", ...args: string[]) =>
  execa(tool, ["-v2c", "-c", "private", "-Oqv", "-t", "1", "-r", "0", `127.0.0.1:${sim.address().port}`, ...args], { env: { MIBS: "" } }).then((r) => r.stdout.trim());

beforeAll(async () => {
  sim = await SimulatedSwitch.start({ profile: "generic", ports: 24, address: "127.0.0.1", port: 0, log: pino({ level: "silent" }) });
  dir = await mkdtemp(join(tmpdir(), "pirack-outage-"));
  config = join(dir, "rack.yaml");
  await writeFile(
    config,
    `shelf: hex-a
fileserver: { switchPort: 24, manageInterfaces: false }
storage: { network: 10.46.189.0/24, firstVlan: 10 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
nfs: { server: none }
paths: { state: ${dir}/state, exports: ${dir}/export, images: ${dir}/images }
switch: { driver: qbridge, host: 127.0.0.1, port: ${sim.address().port}, snmp: { version: "2c", community: private }, timeoutMs: 500, retries: 1 }
`,
  );
});

afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("pirack serve through a switch outage", () => {
  it("answers the API at once while the switch is dead, and repairs drift (PoE turned off behind its back) as soon as it is back", async () => {
    const apiPort = await freePort();
    const api = `http://127.0.0.1:${apiPort}`;
    const child = execa(
      "node",
      [pirack, "serve", "--config", config, "--sysroot", join(dir, "sysroot"), "--listen", `127.0.0.1:${apiPort}`, "--dhcp-port", String(await freePort()), "--tftp-listen", `127.0.0.1:${await freePort()}`],
      { reject: false },
    );
    let out = "";
    child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    const until = async (what: string, ok: () => Promise<boolean>, ms: number) => {
      const deadline = Date.now() + ms;
      while (!(await ok().catch(() => false))) {
        if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    try {
      // The startup pass puts port 1 on VLAN 10.
      await until("port 1 on PVID 10 with PoE on", async () => (await snmp("snmpget", PVID_1)) === "10" && (await snmp("snmpget", POE_1)) === "1", 120_000);
      // Drift behind pirack's back, then the switch stops answering anything.
      await snmp("snmpset", POE_1, "i", "2");
      sim.faults.drop(1_000_000);
      await until(
        "switch seen unreachable",
        async () => ((await (await fetch(`${api}/api/v1/reconcile`)).json()) as { switch: { reachable: boolean | null } }).switch.reachable === false,
        60_000,
      );
      const t0 = Date.now();
      const view = (await (await fetch(`${api}/api/v1/reconcile`)).json()) as { unknown: { subsystem: string; reason: string }[] };
      const took = Date.now() - t0;
      expect(took).toBeLessThan(5_000); // was 6-13 s and then HTTP 500
      expect(view.unknown).toEqual([{ subsystem: "switch", reason: "unreachable" }]);
      expect((await fetch(`${api}/api/v1/pis`)).status).toBe(200);

      // The switch comes back: the monitor notices (5 s poll) and requests a pass; the 60 s timer is not needed.
      sim.faults.clear();
      const back = Date.now();
      await until("port 1's PoE back on", async () => (await snmp("snmpget", POE_1)) === "1", 40_000);
      expect(Date.now() - back).toBeLessThan(40_000);
      // It was the switch's return that started the repairing pass, not the periodic timer.
      const passes = () => out.split("\n").filter((l) => l.includes('"reconcile pass finished"')).map((l) => (JSON.parse(l) as { reason: string }).reason);
      await until("the pass requested by the switch's return to finish", async () => passes().includes("switch answers again"), 30_000);
    } finally {
      child.kill("SIGTERM");
      const r = await child;
      if (r.exitCode !== 0) process.stderr.write(String(r.stdout).split("\n").slice(-30).join("\n"));
      expect(r.exitCode).toBe(0);
    }
  }, 300_000);
});
