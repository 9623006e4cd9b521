import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { parseConfigText, type Config } from "../config.ts";
import { planRack } from "../plan.ts";
import { debianLayout, layoutFiles } from "../../workloads/db/layout.ts";
import { workloadsSubsystem } from "./workloads.ts";

let work: string;
let config: Config;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "pirack-wl-pass-"));
  const seed = await readFile(new URL("../../examples/seed-rack.yaml", import.meta.url), "utf8");
  const text = seed
    .replace("paths: { exports: /export, images: /srv/pirack/images, state: /var/lib/pirack }", `paths: { exports: ${work}/export, images: ${work}/images, state: ${work}/state }`)
    .replace(/^pis:[\s\S]*$/m, "pis:\n  - { port: 1, name: pi01, role: cdn }\n  - { port: 2, name: pi02, role: web }\nworkloads:\n  cdn: { weights: { pi02: 2 } }\n");
  const parsed = parseConfigText(text);
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  config = parsed.config;
});
afterEach(() => rm(work, { recursive: true, force: true }));

/** A root in place, cloned from `layer` (undefined: golden). */
async function root(address: string, layer: string | undefined): Promise<string> {
  const dir = join(work, "export", address);
  await mkdir(join(dir, "etc/pirack"), { recursive: true });
  await writeFile(join(dir, "etc/hostname"), "x\n");
  await writeFile(join(dir, "etc/group"), "root:x:0:\nwww-data:x:33:\n");
  if (layer) await writeFile(join(dir, "etc/pirack/layer.json"), JSON.stringify({ role: layer }));
  return dir;
}

describe("the workloads subsystem", () => {
  const subsystem = () => workloadsSubsystem({ log: pino({ level: "silent" }), config: () => config });

  it("generates the secrets first, writes each node from its own layer, then plans nothing", async () => {
    await root("10.46.189.2", "cdn");
    await root("10.46.189.6", "web");
    const s = subsystem();
    const plan = planRack(config);
    const first = await s.planFor(plan);
    expect(first.map((a) => a.kind)).toEqual(["generateSecrets", "writeWorkloadFiles", "writeWorkloadFiles"]);
    expect(first[1]?.description).toMatch(/^write \d+ workload files in root 10\.46\.189\.2 \(port 1, cdn\)$/);
    for (const a of first) await s.apply(a);
    expect(await readFile(join(work, "export/10.46.189.2/etc/nginx/pirack/upstream.conf"), "utf8")).toMatch(/weight=2 .*# pi02/);
    expect(await s.planFor(plan)).toEqual([]);
  });

  it("leaves a root from another layer (a role change: the roots subsystem reports it) and a missing root alone", async () => {
    await root("10.46.189.2", undefined);
    const actions = await subsystem().planFor(planRack(config));
    expect(actions.map((a) => a.kind)).toEqual(["generateSecrets"]);
  });

  it("re-renders on a config change", async () => {
    await root("10.46.189.2", "cdn");
    await root("10.46.189.6", "web");
    const s = subsystem();
    for (const a of await s.planFor(planRack(config))) await s.apply(a);
    config = { ...config, workloads: { ...config.workloads, cdn: { ...config.workloads.cdn, weights: { pi02: 7 } } } };
    const again = await s.planFor(planRack(config));
    expect(again.map((a) => a.description)).toEqual(["write 1 workload file in root 10.46.189.2 (port 1, cdn)"]);
  });

  it("renders db Pis from the primary failover recorded, not the config's first choice; never guesses when it cannot tell", async () => {
    const text = (await readFile(new URL("../../examples/seed-rack.yaml", import.meta.url), "utf8"))
      .replace("paths: { exports: /export, images: /srv/pirack/images, state: /var/lib/pirack }", `paths: { exports: ${work}/export, images: ${work}/images, state: ${work}/state }`)
      .replace(/^pis:[\s\S]*$/m, "pis:\n  - { port: 1, name: db1, role: db }\n  - { port: 2, name: db2, role: db }\n");
    const parsed = parseConfigText(text);
    if (!parsed.ok) throw new Error(parsed.problems.join("; "));
    config = parsed.config;
    const params = layoutFiles(debianLayout).initParams.replace(/^\//, "");
    const roleOf = async (address: string) => /^ROLE=(\w+)$/m.exec(await readFile(join(work, "export", address, params), "utf8"))?.[1];
    for (const address of ["10.46.189.2", "10.46.189.6"]) {
      const dir = await root(address, "db");
      await writeFile(join(dir, "etc/group"), "root:x:0:\nmysql:x:106:\n");
    }
    const s = subsystem();
    for (const a of await s.planFor(planRack(config))) await s.apply(a);
    expect([await roleOf("10.46.189.2"), await roleOf("10.46.189.6")]).toEqual(["primary", "replica"]);

    // db1 failed and was fenced: db2 is primary now, and the next pass renders db1 as its replica.
    await mkdir(join(work, "state/workloads"), { recursive: true });
    await writeFile(join(work, "state/workloads/failover.json"), JSON.stringify({ version: 1, primary: "db2", fenced: [{ name: "db1", port: 1 }], unprotected: false, lastFailover: null, savedAt: new Date(0).toISOString() }));
    for (const a of await s.planFor(planRack(config))) await s.apply(a);
    expect([await roleOf("10.46.189.2"), await roleOf("10.46.189.6")]).toEqual(["replica", "primary"]);

    // A damaged state file (and no older generation): no db Pi is touched, even after a config change.
    await writeFile(join(work, "state/workloads/failover.json"), "{");
    config = { ...config, workloads: { ...config.workloads, db: { ...config.workloads.db, primary: "db1", bufferPoolMb: 64 } } };
    expect(await s.planFor(planRack(config))).toEqual([]);
  });
});
