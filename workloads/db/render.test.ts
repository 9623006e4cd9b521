import { describe, expect, it } from "vitest";
import { defaultWorkloads } from "../config.ts";
import type { Cluster } from "../role.ts";
import { decodeDbHealth } from "./health.ts";
import { renderDbFiles } from "./render.ts";
import { renderDbProxyConfig } from "./render-proxy.ts";
import { DbSecret, dbValues } from "./values.ts";

const cluster: Cluster = {
  exportsDir: "/export",
  nodes: [
    { name: "pi01", port: 1, role: "web", publicAddress: "2a00:1098:0:84:1000:1::2", storageAddress: "10.46.189.2", serverAddress: "10.46.189.1" },
    { name: "pi03", port: 3, role: "db", publicAddress: "2a00:1098:0:84:1000:1::4", storageAddress: "10.46.189.10", serverAddress: "10.46.189.9" },
    { name: "pi04", port: 4, role: "db", publicAddress: "2a00:1098:0:84:1000:1::5", storageAddress: "10.46.189.14", serverAddress: "10.46.189.13" },
  ],
};
const secrets = Object.fromEntries(Object.values(DbSecret).map((n, i) => [n, `secret${i}AAAAAAAAAAAAAAAAAAAA`]));
const render = (name: string) => {
  const node = cluster.nodes.find((n) => n.name === name)!;
  return renderDbFiles(dbValues({ node, cluster, workloads: defaultWorkloads(), secrets }));
};
const file = (files: ReturnType<typeof render>, path: string) => files.find((f) => f.path === path);

describe("db role files", () => {
  it("renders the primary and the replica with their own server_id, read_only at boot, semi-sync AFTER_SYNC", async () => {
    for (const name of ["pi03", "pi04"]) {
      const files = render(name);
      await expect(files.map((f) => `## ${f.path} (${f.mode.toString(8)}${f.group ? ` ${f.group}` : ""}${f.secret ? " secret" : ""})\n${f.content}`).join("\n")).toMatchFileSnapshot(`__golden__/${name}.txt`);
      const cnf = file(files, "etc/mysql/mariadb.conf.d/60-pirack-db.cnf")!.content;
      expect(cnf).toMatch(/^read_only\s+= ON$/m);
      expect(cnf).toMatch(/^rpl_semi_sync_master_wait_point\s+= AFTER_SYNC$/m);
      expect(cnf).toMatch(/^gtid_strict_mode\s+= ON$/m);
    }
    expect(file(render("pi03"), "etc/mysql/mariadb.conf.d/60-pirack-db.cnf")!.content).toMatch(/^server_id\s+= 3$/m);
    expect(file(render("pi04"), "etc/mysql/mariadb.conf.d/60-pirack-db.cnf")!.content).toMatch(/^server_id\s+= 4$/m);
  });

  it("only the replica gets CHANGE MASTER TO with GTID; only the primary creates the database", () => {
    expect(file(render("pi03"), "etc/mysql/pirack/replica.sql")).toBeUndefined();
    expect(file(render("pi04"), "etc/mysql/pirack/replica.sql")!.content).toContain("MASTER_HOST='2a00:1098:0:84:1000:1::4'");
    expect(file(render("pi04"), "etc/mysql/pirack/replica.sql")!.content).toContain("MASTER_USE_GTID=slave_pos");
    expect(file(render("pi03"), "etc/mysql/pirack/init.sql")!.content).toContain("CREATE DATABASE IF NOT EXISTS `wordpress`");
    expect(file(render("pi04"), "etc/mysql/pirack/init.sql")!.content).not.toContain("CREATE DATABASE");
  });

  it("keeps every secret in files marked secret with mode 0600/0640", () => {
    for (const f of render("pi04")) {
      const holds = Object.values(secrets).some((s) => f.content.includes(s));
      expect({ path: f.path, holds, secret: f.secret === true }).toEqual({ path: f.path, holds, secret: holds });
      if (holds) expect([0o600, 0o640]).toContain(f.mode);
    }
  });

  it("refuses a secret that would need quoting", () => {
    const node = cluster.nodes[1]!;
    expect(() => renderDbFiles(dbValues({ node, cluster, workloads: defaultWorkloads(), secrets: { ...secrets, [DbSecret.site]: "it's" } }))).toThrow(/URL-safe/);
  });

  it("renders the web Pis' proxy config checking /primary on every db Pi", () => {
    const cfg = renderDbProxyConfig({ dbs: [{ name: "pi03", address: "2a00:1098:0:84:1000:1::4" }], dbPort: 3306, healthPort: 8306, checkIntervalMs: 500, checkTimeoutMs: 1000, listen: "127.0.0.1:3306" });
    expect(cfg).toContain("server pi03 [2a00:1098:0:84:1000:1::4]:3306 check port 8306");
    expect(cfg).toContain("http-check send meth GET uri /primary");
  });
});

describe("decodeDbHealth", () => {
  it("accepts the endpoint's answers and rejects anything else with the reason", () => {
    expect(decodeDbHealth('{"up":false,"role":"down"}')).toEqual({ up: false, role: "down" });
    expect(() => decodeDbHealth("<html>")).toThrow(/not JSON/);
    expect(() => decodeDbHealth('{"up":true,"role":"primary"}')).toThrow(/schema/);
  });
});
