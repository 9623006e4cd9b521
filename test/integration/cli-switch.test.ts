/**
 * `pirack switch show|apply` and `pirack power` as real CLI processes against the simulated PoE switch on
 * loopback, and `pirack serve` pushing the plan to it and power-cycling through the API. Net-SNMP's snmpget
 * reads back what pirack wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { freePort } from "../support/free-port.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { SimulatedSwitch } from "../../switch/sim/index.ts";

const pirack = new URL("../../bin/pirack.mjs", import.meta.url).pathname;
let sim: SimulatedSwitch;
let dir: string;
let config: string;


const snmpget = async (oid: string) =>
  (await execa("snmpget", ["-v2c", "-c", "public", "-Oqv", `127.0.0.1:${sim.address().port}`, oid])).stdout.trim();

beforeAll(async () => {
  sim = await SimulatedSwitch.start({ profile: "generic", ports: 24, address: "127.0.0.1", port: 0, log: pino({ level: "silent" }) });
  dir = await mkdtemp(join(tmpdir(), "pirack-cli-switch-"));
  config = join(dir, "rack.yaml");
  await writeFile(
    config,
    `shelf: hex-a
fileserver: { switchPort: 24, manageInterfaces: false }
storage: { network: 10.46.189.0/24, firstVlan: 10 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
nfs: { server: none }
switch: { driver: qbridge, host: 127.0.0.1, port: ${sim.address().port}, snmp: { version: "2c", community: private } }
`,
  );
});

afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("pirack switch and power against the simulated switch", () => {
  it("applies the plan, and a second apply changes nothing", async () => {
    const first = await execa("node", [pirack, "switch", "apply", "--config", config]);
    expect(first.stdout).toMatch(/SET request\(s\)/);
    const second = await execa("node", [pirack, "switch", "apply", "--config", config]);
    expect(second.stdout).toBe("switch already in the desired state");
    // Q-BRIDGE-MIB dot1qPvid (1.3.6.1.2.1.17.7.1.4.5.1.1) of bridge ports 1 and 2, read by Net-SNMP.
    expect(await snmpget("1.3.6.1.2.1.17.7.1.4.5.1.1.1")).toBe("10");
    expect(await snmpget("1.3.6.1.2.1.17.7.1.4.5.1.1.2")).toBe("11");
  });

  it("shows the rack's ports as JSON", async () => {
    const r = await execa("node", [pirack, "switch", "show", "--config", config, "--json"]);
    const rows = (JSON.parse(r.stdout) as { ports: { port: number; untaggedVlans: number[]; taggedVlans: number[]; pvid: number }[] }).ports;
    expect(rows.map((p) => [p.port, p.untaggedVlans, p.taggedVlans, p.pvid])).toEqual([
      [1, [10], [131], 10],
      [2, [11], [131], 11],
      [24, [1], [10, 11], 1],
    ]);
  });

  it("power-cycles a port straight on the switch when no appliance runs", async () => {
    const r = await execa("node", [pirack, "power", "cycle", "1", "--config", config, "--api", `http://127.0.0.1:${await freePort()}`]);
    const steps = r.stdout.split("\n").map((l) => l.trim().split(/\s+/).pop());
    expect(steps).toEqual(["poeOff", "linkDown", "poeOn", "deliveringPower"]);
  });

  it("refuses a port that is not the rack's", async () => {
    const r = await execa("node", [pirack, "power", "off", "7", "--config", config, "--api", `http://127.0.0.1:${await freePort()}`], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("port 7 is not a Pi port");
  });

  it("serve keeps an operator's power-off across passes and turns the port back on when asked", async () => {
    const apiPort = await freePort();
    const child = execa(
      "node",
      [pirack, "serve", "--config", config, "--sysroot", join(dir, "sysroot"), "--listen", `127.0.0.1:${apiPort}`, "--dhcp-port", String(await freePort()), "--tftp-listen", `127.0.0.1:${await freePort()}`],
      { reject: false },
    );
    try {
      const api = `http://127.0.0.1:${apiPort}`;
      for (let i = 0; i < 100; i++) {
        if (await fetch(`${api}/metrics`).then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const off = await execa("node", [pirack, "power", "off", "2", "--api", api, "--json"]);
      expect(JSON.parse(off.stdout)).toMatchObject({ ok: true });
      // pethPsePortAdminEnable (POWER-ETHERNET-MIB 1.3.6.1.2.1.105.1.1.1.3) group 1 port 2: 2 = false.
      expect(await snmpget("1.3.6.1.2.1.105.1.1.1.3.1.2")).toBe("2");
      const pending = (await (await fetch(`${api}/api/v1/reconcile`)).json()) as { pending: unknown[] };
      expect(pending.pending).toEqual([]);
      const pis = (await (await fetch(`${api}/api/v1/pis`)).json()) as { port: number; power: string }[];
      expect(pis.find((p) => p.port === 2)?.power).toBe("off");
      await execa("node", [pirack, "power", "on", "2", "--api", api]);
      expect(await snmpget("1.3.6.1.2.1.105.1.1.1.3.1.2")).toBe("1");
    } finally {
      child.kill("SIGTERM");
      expect((await child).exitCode).toBe(0);
    }
  });
});
