/**
 * `pirack image import`, `pirack roots sync` and `pirack roots rebuild` as real CLI processes: a fixture root tree
 * (owners, device nodes, hardlinks) becomes the golden image, listed Pis get customised clones and exactly those are
 * exported, a second sync changes nothing, and a rebuild keeps the old root (and what the Pi wrote) aside.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isRoot } from "../support/netns.ts";
import { freePort } from "../support/free-port.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";

const pirack = new URL("../../bin/pirack.mjs", import.meta.url).pathname;
let work: string;
let config: string;
const cli = (...args: string[]) => execa("node", [pirack, ...args], { reject: false });

describe.skipIf(!isRoot())("pirack image and roots commands (root: device nodes and owners)", () => {
  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/pirack-cli-roots-");
    await mkdir(join(work, "source"));
    await makeFixtureRoot(join(work, "source"));
    config = join(work, "rack.yaml");
    await writeFile(
      config,
      `shelf: hex-a
storage: { network: 10.46.189.0/24 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-3
paths: { exports: ${work}/export, images: ${work}/images, state: ${work}/state }
image: golden
nfs: { server: kernel }
pis: [ { port: 1, name: pi01 }, { port: 2, name: pi02 } ]
`,
    );
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("imports a root tree as the golden image", async () => {
    const r = await cli("image", "import", join(work, "source"), "--config", config);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^image golden imported at .*\/images\/golden: \d+ MB, \d+ packages$/);
  });

  it("syncs the listed Pis' roots and exports them, then has nothing left to do", async () => {
    const sysroot = join(work, "sysroot");
    const first = await cli("roots", "sync", "--config", config, "--sysroot", sysroot);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain("clone root 10.46.189.2 (port 1) from golden");
    expect(first.stdout).toContain(`export ${work}/export/10.46.189.6 to 10.46.189.6 (port 2)`);
    expect(first.stdout).toContain("ready and exported: ports 1, 2");
    expect(await readFile(join(work, "export/10.46.189.6/etc/hostname"), "utf8")).toBe("pi02\n");
    const exported = (await readFile(join(sysroot, "etc/exports.d/pirack.exports"), "utf8")).split("\n").filter((l) => l.startsWith("/"));
    expect(exported).toEqual([
      `${work}/export/10.46.189.2 10.46.189.2(rw,sync,no_subtree_check,no_root_squash)`,
      `${work}/export/10.46.189.6 10.46.189.6(rw,sync,no_subtree_check,no_root_squash)`,
    ]);
    const second = await cli("roots", "sync", "--config", config, "--sysroot", sysroot);
    expect(second.stdout).toBe("ready and exported: ports 1, 2");
  });

  it("rebuilds one root and keeps the old one aside", async () => {
    await writeFile(join(work, "export/10.46.189.2/home-data"), "the Pi's own work\n");
    const r = await cli("roots", "rebuild", "1", "--config", config, "--sysroot", join(work, "sysroot"));
    expect(r.exitCode, r.stderr).toBe(0);
    const old = /old root kept at (\S+)$/.exec(r.stdout)?.[1];
    expect(old).toMatch(/\.pirack\/old\/10\.46\.189\.2@\d{8}T\d{6}Z$/);
    expect(await readFile(join(old!, "home-data"), "utf8")).toBe("the Pi's own work\n");
    await expect(readFile(join(work, "export/10.46.189.2/home-data"))).rejects.toThrow(/ENOENT/);
  });

  it("refuses to rebuild a port without a listed Pi", async () => {
    const r = await cli("roots", "rebuild", "3", "--config", config);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("port 3 has no enrolled Pi");
  });

  it("keeps every auto-enrolled Pi exported when roots sync runs beside serve", async () => {
    // serve learned a Pi on port 3 by plug-in (pis.json); roots sync must plan with it, not only with pis:.
    const state = join(work, "state");
    await mkdir(state, { recursive: true });
    await writeFile(join(state, "pis.json"), JSON.stringify({ pis: [{ port: 3, mac: "b8:27:eb:00:00:03", serial: "00000003", model: "3B" }] }));
    const served = join(work, "served.yaml");
    await writeFile(served, (await readFile(config, "utf8")).replace("nfs: { server: kernel }", "nfs: { server: kernel }\nswitch: { driver: none }"));
    const sysroot = join(work, "sysroot");
    const exportsFile = join(sysroot, "etc/exports.d/pirack.exports");
    const exported = async () => (await readFile(exportsFile, "utf8")).split("\n").filter((l) => l.startsWith("/")).map((l) => l.split(" ")[1]);
    const daemon = execa(
      "node",
      [pirack, "serve", "--config", served, "--sysroot", sysroot, "--listen", `127.0.0.1:${await freePort()}`, "--dhcp-port", String(await freePort()), "--tftp-listen", `127.0.0.1:${await freePort()}`],
      { reject: false },
    );
    try {
      const deadline = Date.now() + 120_000;
      while (!(await exported().catch(() => [])).some((a) => a?.startsWith("10.46.189.10("))) {
        if (Date.now() > deadline) throw new Error(`serve never exported port 3's root; exports: ${await readFile(exportsFile, "utf8").catch(() => "none")}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const sync = await cli("roots", "sync", "--config", served, "--sysroot", sysroot);
      expect(sync.exitCode, sync.stderr).toBe(0);
      expect(sync.stdout).toContain("ready and exported: ports 1, 2, 3");
      expect((await exported()).map((a) => a?.split("(")[0]).sort()).toEqual(["10.46.189.10", "10.46.189.2", "10.46.189.6"]);
    } finally {
      daemon.kill("SIGTERM");
      await daemon;
    }
  });
});
