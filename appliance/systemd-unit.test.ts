import { describe, expect, it } from "vitest";
import { execa } from "execa";
import { readFileSync } from "node:fs";

const unit = new URL("../systemd/pirack.service", import.meta.url).pathname;
const text = readFileSync(unit, "utf8");
const hasAnalyze = execa("systemd-analyze", ["--version"], { reject: false }).then((r) => r.exitCode === 0);

const setting = (key: string): string[] =>
  text
    .split("\n")
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

describe("systemd/pirack.service", async () => {
  it.skipIf(!(await hasAnalyze) && !process.env.CI)("passes systemd-analyze verify with no warnings", async () => {
    const r = await execa("systemd-analyze", ["verify", unit], { reject: false });
    expect(r.exitCode).toBe(0);
    // verify exits 0 on settings it ignores; it prints them, so any output is a failure.
    expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
  });

  it.skipIf(!(await hasAnalyze) && !process.env.CI)("keeps its exposure score at or below 5.5 (systemd-analyze security)", async () => {
    const r = await execa("systemd-analyze", ["security", "--offline=yes", unit], { reject: false });
    const score = Number(/Overall exposure level for pirack\.service: ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(score).toBeLessThanOrEqual(5.5);
  });

  it("grants exactly the capabilities pirack uses", () => {
    expect(setting("CapabilityBoundingSet")[0]!.split(" ").sort()).toEqual(
      [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_ADMIN",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SYS_ADMIN",
      ].sort(),
    );
  });

  it("restarts on failure, reloads with SIGHUP and runs serve on the API address of DESIGN.md", () => {
    expect(setting("Restart")).toEqual(["on-failure"]);
    expect(setting("RestartPreventExitStatus")).toEqual(["2"]); // a rejected config: no restart loop
    expect(setting("ExecReload")).toEqual(["/bin/kill -HUP $MAINPID"]);
    expect(setting("ExecStart")[0]).toMatch(/pirack\.mjs serve --config \/etc\/pirack\/rack\.yaml --listen 127\.0\.0\.1:8067$/);
    expect(setting("NoNewPrivileges")).toEqual(["yes"]);
    expect(setting("ProtectSystem")).toEqual(["strict"]);
  });
});
