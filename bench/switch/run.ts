/**
 * Switch benchmark: the simulated switch's agent against Debian's snmpd as the reference server (same npm
 * client, same machine, same run), then the driver's observe/apply on the simulator against the Net-SNMP
 * command line tools reading the same columns. Prints figures and ratios.
 *   node --import tsx bench/switch/run.ts [--gets 2000] [--walks 20] [--ports 48]
 * snmpd: taken from PATH, else `apt-get download snmpd` is unpacked into a temporary directory (never installed,
 * so no system service starts). Everything binds 127.0.0.1 on free high ports and is stopped at the end.
 */
import { execa, type ResultPromise } from "execa";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import snmp, { type Session } from "net-snmp";
import { pino } from "pino";
import { createSwitchDriver, rackSwitchState, type SwitchDriver } from "../../switch/index.ts";
import { SimulatedSwitch } from "../../switch/sim/index.ts";
import { freeUdpPort } from "../../test/support/free-port.ts";

const { values } = parseArgs({ options: { gets: { type: "string", default: "2000" }, walks: { type: "string", default: "20" }, ports: { type: "string", default: "48" } } });
const gets = Number(values.gets);
const walks = Number(values.walks);
const ports = Number(values.ports);
const cleanups: (() => Promise<unknown> | void)[] = [];

const freePort = freeUdpPort;

async function snmpdBinary(): Promise<string> {
  const onPath = await execa("sh", ["-c", "command -v snmpd"], { reject: false });
  if (onPath.exitCode === 0) return onPath.stdout.trim();
  const dir = await mkdtemp(join(tmpdir(), "pirack-snmpd-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await execa("apt-get", ["download", "snmpd"], { cwd: dir });
  const deb = (await readdir(dir)).find((f) => f.endsWith(".deb"));
  if (!deb) throw new Error("apt-get download snmpd produced no .deb");
  await execa("dpkg", ["-x", deb, "root"], { cwd: dir });
  return join(dir, "root/usr/sbin/snmpd");
}

async function startSnmpd(): Promise<number> {
  const bin = await snmpdBinary();
  const dir = await mkdtemp(join(tmpdir(), "pirack-snmpd-run-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  await writeFile(join(dir, "snmpd.conf"), `agentaddress udp:127.0.0.1:${port}\nrocommunity public 127.0.0.1\n`);
  const child: ResultPromise = execa(bin, ["-f", "-Lf", join(dir, "log"), "-C", "-c", join(dir, "snmpd.conf"), `--persistentDir=${dir}`], { reject: false });
  cleanups.push(async () => {
    child.kill("SIGTERM");
    await child;
  });
  for (let i = 0; i < 50; i++) {
    const s = snmp.createSession("127.0.0.1", "public", { port, version: snmp.Version2c, timeout: 100, retries: 0 });
    try {
      await get(s, "1.3.6.1.2.1.1.3.0");
      return port;
    } catch {
      // not up yet: snmpd needs a moment to bind; retried for up to ~5 s
    } finally {
      s.close();
    }
  }
  throw new Error("snmpd did not answer");
}

const session = (port: number): Session => snmp.createSession("127.0.0.1", "public", { port, version: snmp.Version2c, timeout: 2000, retries: 0 });
const get = (s: Session, oid: string) => new Promise<void>((resolve, reject) => s.get([oid], (e) => (e ? reject(e) : resolve())));
const walk = (s: Session, oid: string) =>
  new Promise<number>((resolve, reject) => {
    let n = 0;
    s.subtree(oid, 16, (vbs) => void (n += vbs.length), (e) => (e ? reject(e) : resolve(n)));
  });

async function serverFigures(name: string, port: number) {
  const s = session(port);
  await get(s, "1.3.6.1.2.1.1.3.0");
  let t = performance.now();
  for (let i = 0; i < gets; i++) await get(s, "1.3.6.1.2.1.1.3.0");
  const getUs = ((performance.now() - t) * 1000) / gets;
  t = performance.now();
  let varbinds = 0;
  for (let i = 0; i < walks; i++) varbinds += await walk(s, "1.3.6.1.2.1");
  const walkMs = performance.now() - t;
  s.close();
  const perSec = (varbinds / walkMs) * 1000;
  console.log(`${name.padEnd(10)} GET ${getUs.toFixed(0).padStart(5)} us/request   mib-2 GETBULK walk ${(varbinds / walks).toFixed(0).padStart(5)} varbinds, ${perSec.toFixed(0).padStart(6)} varbinds/s`);
  return { getUs, perSec };
}

async function driverFigures(profile: "generic" | "strict" | "procurve") {
  const sim = await SimulatedSwitch.start({ profile, ports });
  cleanups.push(() => sim.close());
  const { port } = sim.address();
  const driver = createSwitchDriver(
    { driver: "qbridge", host: "127.0.0.1", port, snmp: { version: "2c", community: "private" }, poe: true },
    { log: pino({ level: "silent" }) },
  ) as SwitchDriver;
  cleanups.push(() => driver.close());
  const desired = rackSwitchState({
    piPorts: Array.from({ length: ports - 1 }, (_, i) => ({ port: i + 1, vlan: 10 + i, poe: true })),
    publicVlan: 131,
    uplinkPort: ports,
  });
  await driver.discover();
  let t = performance.now();
  const first = await driver.apply(desired);
  const applyMs = performance.now() - t;
  t = performance.now();
  const again = await driver.apply(desired);
  const noopMs = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 10; i++) await driver.observe();
  const observeMs = (performance.now() - t) / 10;
  // Reference: the Net-SNMP CLI reading the same columns observe() reads (one process per table, as a script would).
  const columns = ["1.3.6.1.2.1.17.7.1.4.3.1", "1.3.6.1.2.1.17.7.1.4.5.1.1", "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.105.1.1.1", "1.3.6.1.2.1.105.1.3.1"];
  t = performance.now();
  for (let i = 0; i < 10; i++) {
    for (const c of columns) await execa("snmpbulkwalk", ["-v2c", "-c", "public", "-On", "-Cr16", `127.0.0.1:${port}`, c], { env: { MIBS: "" } });
  }
  const cliMs = (performance.now() - t) / 10;
  console.log(
    `${profile.padEnd(9)} apply ${ports - 1} Pi ports: ${applyMs.toFixed(0)} ms, ${first.setRequests} SETs${first.usedStepwise ? " (stepwise)" : ""}; ` +
      `second apply ${noopMs.toFixed(0)} ms, ${again.setRequests} SETs; observe ${observeMs.toFixed(1)} ms vs snmpbulkwalk CLI ${cliMs.toFixed(1)} ms (ratio ${(observeMs / cliMs).toFixed(2)})`,
  );
}

try {
  const sim = await SimulatedSwitch.start({ profile: "procurve", ports });
  cleanups.push(() => sim.close());
  console.log(`agent figures (${gets} sequential GETs, ${walks} walks of mib-2, net-snmp npm client, loopback)`);
  const ours = await serverFigures("simulator", sim.address().port);
  const ref = await serverFigures("snmpd", await startSnmpd());
  console.log(`ratio simulator/snmpd: GET latency ${(ours.getUs / ref.getUs).toFixed(2)}x, walk throughput ${(ours.perSec / ref.perSec).toFixed(2)}x`);
  console.log(`\ndriver figures (${ports}-port simulated switch)`);
  for (const p of ["generic", "strict", "procurve"] as const) await driverFigures(p);
} finally {
  for (const c of cleanups.reverse()) await c();
}
