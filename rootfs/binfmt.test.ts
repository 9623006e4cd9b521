import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { binfmtRegistration, ensureForeignArch } from "./binfmt.ts";
import { memoryLog } from "./testing/memory-log.ts";

// Debian 12 qemu-user-static's /usr/lib/binfmt.d/qemu-aarch64.conf (magic and mask abridged).
const AARCH64_CONF = "# comment\n:qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01:\\xff\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OCPF\n";

describe("binfmt registration for foreign builds", () => {
  let dir: string;
  const noRun = async () => ({ exitCode: 1, stdout: "", stderr: "mount must not be called" });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "binfmt-"));
    await mkdir(join(dir, "proc"));
    await mkdir(join(dir, "conf"));
    await writeFile(join(dir, "proc", "register"), "");
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("takes the first non-comment line of a binfmt.d file", () => {
    expect(binfmtRegistration(AARCH64_CONF)).toMatch(/^:qemu-aarch64:M::/);
  });

  it("registers qemu-aarch64 for arm64 when missing", async () => {
    await writeFile(join(dir, "conf", "qemu-aarch64.conf"), AARCH64_CONF);
    const { log, records } = memoryLog();
    await ensureForeignArch("arm64", { run: noRun, log }, { binfmtDir: join(dir, "proc"), binfmtConfDir: join(dir, "conf") });
    expect(await readFile(join(dir, "proc", "register"), "utf8")).toMatch(/^:qemu-aarch64:M::.*OCPF$/);
    expect(records.map((r) => r.msg)).toEqual(["binfmt entry registered"]);
  });

  it("leaves an enabled entry alone", async () => {
    await writeFile(join(dir, "proc", "qemu-arm"), "enabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\n");
    await ensureForeignArch("armhf", { run: noRun, log: memoryLog().log }, { binfmtDir: join(dir, "proc"), binfmtConfDir: join(dir, "conf") });
    expect(await readFile(join(dir, "proc", "register"), "utf8")).toBe("");
  });

  const failures: Record<string, [string, string, RegExp]> = {
    "unknown architecture": ["mips64el-ish", "", /no qemu-user emulator/],
    "qemu-user-static not installed": ["arm64", "", /install qemu-user-static/],
    "entry disabled": ["arm64", "disabled\n", /disabled/],
  };
  it.each(Object.entries(failures))("fails clearly when %s", async (_n, [arch, entry, message]) => {
    if (entry) await writeFile(join(dir, "proc", "qemu-aarch64"), entry);
    await expect(ensureForeignArch(arch, { run: noRun, log: memoryLog().log }, { binfmtDir: join(dir, "proc"), binfmtConfDir: join(dir, "conf") })).rejects.toThrow(message);
  });
});
