/**
 * `pirack roots sync` with roles, as a real CLI process (root: owners and groups): a web Pi and a cdn Pi are cloned
 * from their role layers (small trees with the layer manifest layers.ts writes, no packages installed), a Pi
 * without a role from the golden image; the pass writes each role node's workload files and its /etc/hosts naming
 * the cluster, exports the uploads share to the web Pi only and makes its directory (www-data); a weight change
 * re-renders on the next pass while a file the Pi wrote survives; a missing layer and a role change are reported
 * as problems, never a clone from golden or a rewrite; a rebuild takes the Pi to its new role's layer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isRoot } from "../support/netns.ts";
import { cloneTree, createCommandRunner } from "../../rootfs/index.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";
import { writeLayerManifest } from "../../workloads/layers.ts";

const pirack = new URL("../../bin/pirack.mjs", import.meta.url).pathname;
let work: string;
const cli = (...args: string[]) => execa("node", [pirack, ...args], { reject: false });

const rackYaml = (pis: string, weights: string) => `shelf: hex-a
storage: { network: 10.46.189.0/24 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-4
paths: { exports: ${work}/export, images: ${work}/images, state: ${work}/state }
image: golden
nfs: { server: kernel }
switch: { driver: none }
enrol: manual
pis:
${pis}
workloads:
  site: { name: www, url: "https://www.example.org" }
  cdn: { weights: { ${weights} } }
`;
const ROLES3 = "  - { port: 1, name: pi01, role: cdn }\n  - { port: 2, name: pi02, role: web }\n  - { port: 3, name: pi03 }";

/** A role layer as `pirack workloads build` leaves it, minus the packages: the golden tree, the role's groups, the manifest. */
async function fakeLayer(role: string): Promise<void> {
  const layer = join(work, "images", `golden+${role}`);
  await cloneTree(join(work, "images/golden"), layer, "copy", { run: createCommandRunner() });
  await writeFile(join(layer, "etc/group"), "root:x:0:\nwww-data:x:33:\nmysql:x:107:\n");
  await writeLayerManifest(layer, { role, image: "golden", arch: "amd64", packages: [], disabledUnits: [], builtAt: new Date().toISOString() });
}

describe.skipIf(!isRoot())("roots sync with roles: role layers, workload files, the uploads share (root)", () => {
  let config: string;
  let sysroot: string;
  const root = (address: string) => join(work, "export", address);
  const exportLines = async () => (await readFile(join(sysroot, "etc/exports.d/pirack.exports"), "utf8")).split("\n").filter((l) => l.startsWith("/"));

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/pirack-roots-workloads-");
    config = join(work, "rack.yaml");
    sysroot = join(work, "sysroot");
    await mkdir(join(work, "source"));
    await makeFixtureRoot(join(work, "source"));
    await writeFile(config, rackYaml(ROLES3, "pi02: 1"));
    const imported = await cli("image", "import", join(work, "source"), "--config", config);
    expect(imported.exitCode, imported.stderr).toBe(0);
    await fakeLayer("web");
    await fakeLayer("cdn");
  }, 120_000);
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("clones each Pi from its role's layer, writes its workload files and /etc/hosts, and exports the uploads share", async () => {
    const r = await cli("roots", "sync", "--config", config, "--sysroot", sysroot);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("clone root 10.46.189.2 (port 1) from golden+cdn");
    expect(r.stdout).toContain("clone root 10.46.189.6 (port 2) from golden+web");
    expect(r.stdout).toContain("clone root 10.46.189.10 (port 3) from golden\n");
    expect(r.stdout).toMatch(/write \d+ workload files in root 10\.46\.189\.6 \(port 2, web\)/);
    expect(r.stdout).toMatch(/write \d+ workload files in root 10\.46\.189\.2 \(port 1, cdn\)/);
    expect(r.stdout).toContain(`make share ${work}/export/shared/www-uploads (owner www-data 33:33)`);

    expect(JSON.parse(await readFile(join(root("10.46.189.6"), "etc/pirack/layer.json"), "utf8")).role).toBe("web");
    await expect(stat(join(root("10.46.189.10"), "etc/pirack/layer.json"))).rejects.toThrow(/ENOENT/);
    // The web Pi's files: nginx naming it, wp-config 0640 root:www-data (the root's own gid), the unit links.
    expect(await readFile(join(root("10.46.189.6"), "etc/nginx/nginx.conf"), "utf8")).toContain('"pi02"');
    const wpConfig = await stat(join(root("10.46.189.6"), "etc/wordpress/config-default.php"));
    expect({ mode: wpConfig.mode & 0o777, uid: wpConfig.uid, gid: wpConfig.gid }).toEqual({ mode: 0o640, uid: 0, gid: 33 });
    const manifest = JSON.parse(await readFile(join(root("10.46.189.6"), "etc/pirack/workload-files.json"), "utf8")) as { files: Record<string, string> };
    expect(Object.keys(manifest.files)).toContain("etc/systemd/system/multi-user.target.wants/nginx.service");
    expect(await readFile(join(root("10.46.189.2"), "etc/nginx/pirack/upstream.conf"), "utf8")).toMatch(/server \[2a00:1098:0:84:1000:1::3\]:80 weight=1 .*# pi02/);
    // The Pi without a role gets no workload files.
    await expect(stat(join(root("10.46.189.10"), "etc/pirack/workload-files.json"))).rejects.toThrow(/ENOENT/);
    // /etc/hosts of each role node names the other role nodes on the public VLAN.
    expect(await readFile(join(root("10.46.189.6"), "etc/hosts"), "utf8")).toContain("2a00:1098:0:84:1000:1::2\tpi01\n");
    expect(await readFile(join(root("10.46.189.2"), "etc/hosts"), "utf8")).toContain("2a00:1098:0:84:1000:1::3\tpi02\n");
    // Secrets generated once, 0600, never in the output.
    const secrets = join(work, "state/workloads/secrets.json");
    expect((await stat(secrets)).mode & 0o777).toBe(0o600);
    for (const value of Object.values(JSON.parse(await readFile(secrets, "utf8")) as Record<string, string>)) expect(r.stdout + r.stderr).not.toContain(value);

    const share = await stat(join(work, "export/shared/www-uploads"));
    expect({ dir: share.isDirectory(), uid: share.uid, gid: share.gid }).toEqual({ dir: true, uid: 33, gid: 33 });
    expect(await exportLines()).toEqual([
      `${work}/export/10.46.189.10 10.46.189.10(rw,sync,no_subtree_check,no_root_squash)`,
      `${work}/export/10.46.189.2 10.46.189.2(rw,sync,no_subtree_check,no_root_squash)`,
      `${work}/export/10.46.189.6 10.46.189.6(rw,sync,no_subtree_check,no_root_squash)`,
      `${work}/export/shared/www-uploads 10.46.189.6(rw,sync,no_subtree_check,all_squash,anonuid=33,anongid=33)`,
    ]);

    const again = await cli("roots", "sync", "--config", config, "--sysroot", sysroot);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toBe("ready and exported: ports 1, 2, 3");
  }, 180_000);

  it("re-renders after a weight change and keeps what the Pi wrote", async () => {
    const cdn = root("10.46.189.2");
    await mkdir(join(cdn, "etc/nginx/conf.d"), { recursive: true });
    await writeFile(join(cdn, "etc/nginx/conf.d/pi-own.conf"), "# the Pi's own\n");
    await mkdir(join(cdn, "var/log/nginx"), { recursive: true });
    await writeFile(join(cdn, "var/log/nginx/access.log"), "GET / 200\n");
    const wpBefore = await readFile(join(root("10.46.189.6"), "etc/wordpress/config-default.php"), "utf8");
    await writeFile(config, rackYaml(ROLES3, "pi02: 5"));
    const r = await cli("roots", "sync", "--config", config, "--sysroot", sysroot);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("write 1 workload file in root 10.46.189.2 (port 1, cdn)");
    expect(r.stdout).not.toContain("(port 2, web)");
    expect(await readFile(join(cdn, "etc/nginx/pirack/upstream.conf"), "utf8")).toMatch(/server \[2a00:1098:0:84:1000:1::3\]:80 weight=5 .*# pi02/);
    expect(await readFile(join(cdn, "etc/nginx/conf.d/pi-own.conf"), "utf8")).toBe("# the Pi's own\n");
    expect(await readFile(join(cdn, "var/log/nginx/access.log"), "utf8")).toBe("GET / 200\n");
    // The secrets were generated once: the web Pi's config is the same.
    expect(await readFile(join(root("10.46.189.6"), "etc/wordpress/config-default.php"), "utf8")).toBe(wpBefore);
  }, 180_000);

  it("reports a missing layer and a role change as problems, and a rebuild takes the Pi to its new layer", async () => {
    const dbPis = "  - { port: 1, name: pi01, role: cdn }\n  - { port: 2, name: pi02, role: web }\n  - { port: 3, name: pi03, role: db }\n  - { port: 4, name: pi04, role: db }";
    await writeFile(config, rackYaml(dbPis, "pi02: 5"));
    await writeFile(join(root("10.46.189.10"), "home/pi/notes"), "the Pi's work\n");
    const r = await cli("roots", "sync", "--config", config, "--sysroot", sysroot);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("clone root 10.46.189.14 (port 4) from golden+db (layer not built): layer golden+db not built: pirack workloads build db");
    expect(r.stderr).toContain("root 10.46.189.10 (port 3) needs a rebuild from golden+db: rebuild needed: root of port 3 was cloned from the golden image (role none); role db needs golden+db (its packages differ): pirack roots rebuild 3");
    await expect(stat(root("10.46.189.14"))).rejects.toThrow(/ENOENT/);
    // Never rewritten: the golden root of port 3 keeps what the Pi wrote and gets no db files.
    expect(await readFile(join(root("10.46.189.10"), "home/pi/notes"), "utf8")).toBe("the Pi's work\n");
    await expect(stat(join(root("10.46.189.10"), "etc/pirack/workload-files.json"))).rejects.toThrow(/ENOENT/);

    await fakeLayer("db");
    const built = await cli("roots", "sync", "--config", config, "--sysroot", sysroot);
    expect(built.stdout).toContain("clone root 10.46.189.14 (port 4) from golden+db");
    expect(built.stdout).toMatch(/write \d+ workload files in root 10\.46\.189\.14 \(port 4, db\)/);
    expect(built.exitCode).toBe(1); // port 3 still needs its rebuild

    const rebuilt = await cli("roots", "rebuild", "3", "--config", config, "--sysroot", sysroot);
    expect(rebuilt.exitCode, `${rebuilt.stdout}\n${rebuilt.stderr}`).toBe(0);
    const old = /old root kept at (\S+)$/.exec(rebuilt.stdout)?.[1];
    expect(await readFile(join(old!, "home/pi/notes"), "utf8")).toBe("the Pi's work\n");
    expect(JSON.parse(await readFile(join(root("10.46.189.10"), "etc/pirack/layer.json"), "utf8")).role).toBe("db");
    await stat(join(root("10.46.189.10"), "etc/mysql/mariadb.conf.d/60-pirack-db.cnf"));
    const after = await cli("roots", "sync", "--config", config, "--sysroot", sysroot);
    expect(after.exitCode, `${after.stdout}\n${after.stderr}`).toBe(0);
    expect(after.stdout).toBe("ready and exported: ports 1, 2, 3, 4");
  }, 240_000);
});
