import { describe, expect, it } from "vitest";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROLES } from "./index.ts";
import { workloadsSchema } from "./config.ts";
import { clusterHosts, describeRendered, placeholderSecrets, renderCluster, renderNode, requiredSecrets, roleImageName } from "./render.ts";
import { escapeSystemdPath, phpString } from "./render-util.ts";
import type { Cluster } from "./role.ts";

const cluster: Cluster = {
  exportsDir: "/export",
  nodes: [
    { name: "pi01", port: 1, role: "cdn", publicAddress: "2a00:1098:0:84:1000:1::2", storageAddress: "10.46.189.2", serverAddress: "10.46.189.1" },
    { name: "pi02", port: 2, role: "web", publicAddress: "2a00:1098:0:84:1000:1::3", storageAddress: "10.46.189.6", serverAddress: "10.46.189.5" },
    { name: "pi03", port: 3, role: "web", publicAddress: "2a00:1098:0:84:1000:1::4", storageAddress: "10.46.189.10", serverAddress: "10.46.189.9" },
    { name: "pi04", port: 4, role: "db", publicAddress: "2a00:1098:0:84:1000:1::5", storageAddress: "10.46.189.14", serverAddress: "10.46.189.13" },
  ],
};
const workloads = workloadsSchema.parse({ site: { url: "https://www.example.org", title: "It's a site" }, cdn: { weights: { pi02: 1, pi03: 11 } } });
const secrets = placeholderSecrets(requiredSecrets(cluster, ROLES));
const files = renderCluster(cluster, workloads, secrets, ROLES);

describe("workloads: rendered files", () => {
  it.each(["pi01", "pi02", "pi03"])("%s matches its golden files", async (name) => {
    const text = files
      .get(name)!
      .map((f) => `==> ${f.path} (mode ${f.mode.toString(8)}${f.group ? `, group ${f.group}` : ""}${f.secret ? ", secret" : ""}) <==\n${describeRendered(f)}`)
      .join("\n");
    await expect(text).toMatchFileSnapshot(`golden/${name}.txt`);
  });

  it("gives the db Pi nothing until a db role is registered, and no Pi another role's units", () => {
    expect(files.get("pi04")).toEqual(ROLES.db ? expect.any(Array) : []);
    expect(files.get("pi01")!.map((f) => f.path)).not.toContain("etc/systemd/system/multi-user.target.wants/php8.2-fpm.service");
  });

  it("runs wp-cron and serves admin on the primary web Pi only", () => {
    const paths = (n: string) => files.get(n)!.map((f) => f.path);
    expect(paths("pi02")).toContain("etc/systemd/system/timers.target.wants/pirack-wp-cron.timer");
    expect(paths("pi03")).not.toContain("etc/systemd/system/timers.target.wants/pirack-wp-cron.timer");
    const nginx = (n: string) => files.get(n)!.find((f) => f.path === "etc/nginx/nginx.conf")!.content;
    expect(nginx("pi03")).toContain("proxy_pass http://[2a00:1098:0:84:1000:1::3]:80;");
    expect(nginx("pi02")).not.toContain("proxy_pass");
    for (const n of ["pi02", "pi03"]) expect(files.get(n)!.find((f) => f.path === "etc/wordpress/config-default.php")!.content).toContain("define('DISABLE_WP_CRON', true);");
  });

  it("keeps the secret files private (0640 root:www-data) and marks them secret", () => {
    const cfg = files.get("pi02")!.find((f) => f.path === "etc/wordpress/config-default.php")!;
    expect({ mode: cfg.mode, group: cfg.group, secret: cfg.secret }).toEqual({ mode: 0o640, group: "www-data", secret: true });
    expect(files.get("pi02")!.filter((f) => f.content.includes("<secret ")).every((f) => f.secret)).toBe(true);
  });

  it("writes the configured weights into the CDN's upstream file", () => {
    const up = files.get("pi01")!.find((f) => f.path === "etc/nginx/pirack/upstream.conf")!.content;
    expect(up).toContain("server [2a00:1098:0:84:1000:1::3]:80 weight=1 ");
    expect(up).toContain("server [2a00:1098:0:84:1000:1::4]:80 weight=11 ");
  });

  it.skipIf(!existsSync("/usr/bin/php"))("rendered PHP passes php -l (wp-config with real-looking secrets, health script)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pirack-php-"));
    try {
      const tricky = Object.fromEntries(Object.keys(secrets).map((k) => [k, "a'b\\c$d"]));
      // Only the web Pi: the db role refuses secrets that are not URL-safe (its SQL quotes them unescaped).
      for (const f of renderNode(cluster.nodes.find((n) => n.name === "pi02")!, cluster, workloads, tricky, ROLES).filter((f) => f.path.endsWith(".php"))) {
        const file = join(dir, f.path.replace(/\//g, "_"));
        await writeFile(file, f.content);
        const r = await execa("php", ["-l", file], { reject: false });
        expect(r.stdout, f.path).toContain("No syntax errors detected");
        // The value survives PHP's quoting: PHP evaluates the define back to the original string.
        if (f.path.endsWith("config-default.php")) {
          const v = await execa("php", ["-r", `require '${file}'; echo DB_PASSWORD;`]);
          expect(v.stdout).toBe("a'b\\c$d");
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("names the cluster for /etc/hosts and the role image variant", () => {
    expect(clusterHosts(cluster, "pi01").map((h) => h.names[0])).toEqual(["pi02", "pi03", "pi04"]);
    expect(roleImageName("bookworm-arm64", "web")).toBe("bookworm-arm64+web");
    expect(roleImageName("bookworm-arm64", "none")).toBe("bookworm-arm64");
  });
});

describe("render helpers", () => {
  it.each([
    ["/var/lib/wordpress/wp-content/uploads", "var-lib-wordpress-wp\\x2dcontent-uploads"],
    ["/var/cache/pirack", "var-cache-pirack"],
    ["/", "-"],
    ["/srv/.hidden/a b", "srv-.hidden-a\\x20b"],
    ["/.dot", "\\x2edot"],
  ])("escapes %s as systemd-escape --path does", (path, unit) => {
    expect(escapeSystemdPath(path)).toBe(unit);
  });

  it("quotes PHP strings", () => {
    expect(phpString("it's \\")).toBe("'it\\'s \\\\'");
  });
});
