import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KernelExportsBackend } from "./kernel-backend.ts";

const log = { info: () => undefined, warn: () => undefined, debug: () => undefined, error: () => undefined };

describe("kernel exports backend, file only (a sysroot that is not the real system)", () => {
  it("writes the file, never runs exportfs, and converges", async () => {
    const sysroot = await mkdtemp(join(tmpdir(), "pirack-exports-"));
    try {
      const ran: string[] = [];
      const backend = new KernelExportsBackend({ sysroot, exportfs: false }, { log, run: async (f, a) => (ran.push([f, ...a].join(" ")), { exitCode: 0, stdout: "", stderr: "" }) });
      const desired = [{ path: "/export/10.46.189.2", clientAddress: "10.46.189.2" }];
      const first = await backend.apply(desired);
      expect(first.failed).toEqual([]);
      expect(await readFile(join(sysroot, "etc/exports.d/pirack.exports"), "utf8")).toContain("/export/10.46.189.2 10.46.189.2(rw,sync,no_subtree_check,no_root_squash)\n");
      expect(backend.plan(desired, await backend.observe())).toEqual([]);
      expect(ran).toEqual([]);
    } finally {
      await rm(sysroot, { recursive: true, force: true });
    }
  });
});
