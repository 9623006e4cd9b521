import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtemp, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigFile, loadConfigFileOffThread, MAX_CONFIG_BYTES, readConfigText } from "./config-file.ts";

const valid = `storage: { network: 10.46.189.0/24 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
`;

describe("reading a config file", () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), "pirack-config-file-"))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("refuses a 50 MB file from its size, before reading it", async () => {
    const path = join(dir, "rack.yaml");
    await writeFile(path, "");
    await truncate(path, 50 * 1024 * 1024);
    expect(await loadConfigFile(path)).toEqual({ ok: false, problems: [`${path}: is 52428800 bytes, above the ${MAX_CONFIG_BYTES}-byte limit for a config`] });
  });

  it("accepts a file of exactly the limit and refuses one byte more", async () => {
    const path = join(dir, "rack.yaml");
    await writeFile(path, valid + "#".padEnd(MAX_CONFIG_BYTES - valid.length - 1, "x") + "\n");
    expect((await loadConfigFile(path)).ok).toBe(true);
    await writeFile(path, valid + "#".padEnd(MAX_CONFIG_BYTES - valid.length, "x") + "\n");
    expect((await loadConfigFile(path)).ok).toBe(false);
  });

  it("refuses a symlink to /dev/zero, a directory and a FIFO without reading them", async () => {
    const zero = join(dir, "zero.yaml");
    await symlink("/dev/zero", zero);
    expect(await readConfigText(zero)).toEqual({ ok: false, problems: [`${zero}: is a character device, not a regular file`] });
    expect(await readConfigText(dir)).toEqual({ ok: false, problems: [`${dir}: is a directory, not a regular file`] });
    const fifo = join(dir, "fifo.yaml");
    await execa("mkfifo", [fifo]);
    expect(await readConfigText(fifo)).toEqual({ ok: false, problems: [`${fifo}: is a FIFO, not a regular file`] });
  });

  it("follows a symlink to an ordinary file", async () => {
    await writeFile(join(dir, "real.yaml"), valid);
    await symlink(join(dir, "real.yaml"), join(dir, "rack.yaml"));
    expect((await loadConfigFile(join(dir, "rack.yaml"))).ok).toBe(true);
  });

  it("names a missing file", async () => {
    const path = join(dir, "none.yaml");
    expect(await loadConfigFile(path)).toEqual({ ok: false, problems: [`${path}: cannot read (ENOENT)`] });
  });
});

describe("parsing off the event loop", () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), "pirack-config-file-"))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("returns the same frozen config as parsing on the thread", async () => {
    const path = join(dir, "rack.yaml");
    await writeFile(path, valid);
    const off = await loadConfigFileOffThread(path);
    const on = await loadConfigFile(path);
    expect(off).toEqual(on);
    if (!off.ok) return;
    expect(Object.isFrozen(off.config.storagePrefix)).toBe(true);
  }, 30_000);

  it("lists the problems of a broken file", async () => {
    const path = join(dir, "rack.yaml");
    await writeFile(path, `${valid}image: *golden\n`);
    expect(await loadConfigFileOffThread(path)).toEqual({ ok: false, problems: ["(yaml): Unresolved alias (the anchor must be set before the alias): golden"] });
  }, 30_000);

  it("stops a parse that takes too long, and the event loop keeps turning meanwhile", async () => {
    // 40,000 keys: the YAML library's duplicate-key check is quadratic, so this takes many seconds to parse.
    const path = join(dir, "rack.yaml");
    await writeFile(path, valid + Array.from({ length: 40_000 }, (_, i) => `k${i}: 1`).join("\n"));
    let ticks = 0;
    const tick = setInterval(() => ticks++, 10);
    const r = await loadConfigFileOffThread(path, 1500);
    clearInterval(tick);
    expect(r).toEqual({ ok: false, problems: [`${path}: took longer than 1500 ms to parse and validate; not a rack config`] });
    expect(ticks).toBeGreaterThan(20);
  }, 30_000);
});
