import { describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const pirack = new URL("../bin/pirack.mjs", import.meta.url).pathname;

describe("pirack plan (the real CLI process)", () => {
  it("writes the tree for the seed example", async () => {
    const out = await mkdtemp(join(tmpdir(), "pirack-plan-"));
    try {
      const r = await execa("node", [pirack, "plan", "--config", "examples/seed-rack.yaml", "--out", out]);
      expect(r.stdout).toBe(`wrote 36 files to ${out}`);
      expect(await readFile(join(out, "fileserver/etc/network/interfaces.d/eth0.11"), "utf8")).toContain("\taddress 10.46.189.5\n");
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it("lists every problem of a broken config and exits 2, writing nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pirack-plan-"));
    try {
      const file = join(dir, "rack.yaml");
      await writeFile(file, "storage: { network: 10.0.0.0/40 }\nports: 1-2,2\nbogus: 1\n");
      const r = await execa("node", [pirack, "plan", "--config", file, "--out", join(dir, "out")], { reject: false });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain("bogus: unknown key");
      expect(r.stderr).toContain("storage.network: prefix length 40 is larger than 32");
      expect(r.stderr).toContain("ports: port 2 is listed twice");
      expect(r.stderr).toContain("public: is required");
      await expect(readFile(join(dir, "out", "plan.json"))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("plans the embedded default with no arguments", async () => {
    const r = await execa("node", [pirack, "plan"]);
    expect(r.stdout).toContain("==> fileserver/etc/network/interfaces.d/eth0.10 <==");
  });
});
