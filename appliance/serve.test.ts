import { afterEach, describe, expect, it } from "vitest";
import { execa, type ResultPromise } from "execa";
import { mkdtemp, readFile, readdir, rm, writeFile, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";

const pirack = new URL("../bin/pirack.mjs", import.meta.url).pathname;

const rackYaml = (ports: string) => `
shelf: test
fileserver: { manageInterfaces: true }
storage: { network: 10.46.189.0/24, firstVlan: 10 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: "${ports}"
nfs: { server: kernel }
pis: [ { port: 1, name: pi01 } ]
`;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Collects the daemon's JSON log lines and lets a test wait for one. */
function logReader(child: ResultPromise) {
  const lines: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const obj = JSON.parse(line) as Record<string, unknown>;
        lines.push(obj);
        for (const w of waiters.splice(0)) {
          if (w.match(obj)) w.resolve(obj);
          else waiters.push(w);
        }
      } catch {
        // not a log line (should not happen): kept out of the parsed list
      }
    }
  });
  return {
    lines,
    waitFor(match: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching log line in ${timeoutMs} ms; got ${JSON.stringify(lines.map((l) => l.msg))}`)), timeoutMs);
        waiters.push({ match, resolve: (l) => (clearTimeout(t), resolve(l)) });
      });
    },
  };
}

describe("pirack serve", () => {
  let dir: string;
  let child: ResultPromise | undefined;
  afterEach(async () => {
    child?.kill("SIGKILL");
    await child?.catch(() => undefined);
    child = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it("applies a valid config change, ignores an invalid one, and stops cleanly on SIGTERM", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-serve-"));
    const config = join(dir, "rack.yaml");
    const sysroot = join(dir, "sysroot");
    await writeFile(config, rackYaml("1-2"));
    const port = await freePort();
    const tftpPort = await freePort();
    child = execa(
      "node",
      [pirack, "serve", "--config", config, "--sysroot", sysroot, "--listen", `127.0.0.1:${port}`, "--dhcp-port", String(await freePort()), "--tftp-listen", `127.0.0.1:${tftpPort}`],
      { reject: false },
    );
    const log = logReader(child);
    await log.waitFor((l) => l.msg === "reconcile pass finished" && l.reason === "startup");
    const ifaces = join(sysroot, "etc/network/interfaces.d");
    expect((await readdir(ifaces)).sort()).toEqual(["eth0.10", "eth0.11"]);
    expect(await readFile(join(sysroot, "etc/exports.d/pirack.exports"), "utf8")).toContain("/export/10.46.189.2 10.46.189.2(");

    // A valid change, saved the way editors do (write elsewhere, rename over).
    await writeFile(`${config}.new`, rackYaml("1-3"));
    await rename(`${config}.new`, config);
    await log.waitFor((l) => l.msg === "reconcile pass finished" && l.reason === "config changed");
    expect((await readdir(ifaces)).sort()).toEqual(["eth0.10", "eth0.11", "eth0.12"]);

    // An invalid change: every problem logged, nothing touched, the API still answers from the last good config.
    await writeFile(config, rackYaml("1-3,3").replace("firstVlan: 10", "firstVlan: 5000"));
    const rejected = await log.waitFor((l) => String(l.msg).startsWith("config rejected"));
    expect(rejected.problems).toEqual(["storage.firstVlan: VLAN must be 1-4094", "ports: port 3 is listed twice"]);
    expect((await readdir(ifaces)).sort()).toEqual(["eth0.10", "eth0.11", "eth0.12"]);
    const pis = (await (await fetch(`http://127.0.0.1:${port}/api/v1/pis`)).json()) as { port: number; vlan: number }[];
    expect(pis.map((p) => [p.port, p.vlan])).toEqual([
      [1, 10],
      [2, 11],
      [3, 12],
    ]);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('pirack_config_reloads_total{result="rejected"} 1');

    const status = await execa("node", [pirack, "status", "--api", `http://127.0.0.1:${port}`]);
    expect(status.stdout.split("\n")[0]).toMatch(/^port +name +vlan +piAddress +mac +serial +model +power +bootStage +lastSeen$/);
    expect(status.stdout.split("\n")[1]).toMatch(/^1 +pi01 +10 +10\.46\.189\.2 +- +- +- +unknown +unseen +-$/);

    child.kill("SIGTERM");
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(log.lines.some((l) => l.msg === "stopped")).toBe(true);
  });

  it("status says plainly when no appliance answers", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-serve-"));
    const r = await execa("node", [pirack, "status", "--api", `http://127.0.0.1:${await freePort()}`], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/no appliance answers at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it("refuses to start on a broken config, listing every problem", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-serve-"));
    const config = join(dir, "rack.yaml");
    await writeFile(config, "ports: 0\nfoo: 1\n");
    const r = await execa("node", [pirack, "serve", "--config", config, "--sysroot", dir], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("foo: unknown key");
    expect(r.stderr).toContain("storage: is required");
  });
});
