import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyWorkloadFiles, planWorkloadFiles } from "./apply.ts";
import type { RenderedFile } from "./role.ts";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "pirack-apply-"));
  await mkdir(join(root, "etc"));
  await writeFile(join(root, "etc/group"), "root:x:0:\nwww-data:x:33:\n");
});
afterEach(() => rm(root, { recursive: true, force: true }));

const file = (path: string, content: string, extra: Partial<RenderedFile> = {}): RenderedFile => ({ path, content, mode: 0o644, ...extra });

describe("applyWorkloadFiles", () => {
  it("writes files, symlinks and modes, and a second apply changes nothing", async () => {
    const files = [file("etc/nginx/nginx.conf", "a\n"), file("etc/systemd/system/multi-user.target.wants/nginx.service", "/lib/systemd/system/nginx.service", { symlink: true, mode: 0o777 })];
    expect((await applyWorkloadFiles(root, files)).written).toEqual(files.map((f) => f.path));
    expect(await readlink(join(root, files[1]!.path))).toBe("/lib/systemd/system/nginx.service");
    expect((await applyWorkloadFiles(root, files)).written).toEqual([]);
  });

  it("gives a secret file its mode and the root's own group", async () => {
    await applyWorkloadFiles(root, [file("etc/wordpress/config-default.php", "<?php\n", { mode: 0o640, group: "www-data", secret: true })]);
    const st = await lstat(join(root, "etc/wordpress/config-default.php"));
    expect({ mode: st.mode & 0o777, gid: st.gid }).toEqual({ mode: 0o640, gid: process.getuid?.() === 0 ? 33 : st.gid });
  });

  it("leaves a group-owned secret file alone once it is in place (a reconcile pass every minute writes nothing)", async () => {
    const files = [file("etc/wordpress/config-default.php", "<?php\n", { mode: 0o640, group: "www-data", secret: true })];
    await applyWorkloadFiles(root, files);
    expect(await planWorkloadFiles(root, files)).toMatchObject({ write: [], remove: [], kept: [], manifestStale: false });
    expect((await applyWorkloadFiles(root, files)).written).toEqual([]);
  });

  it("plans without writing: what to write and to remove, and keeps what the Pi changed", async () => {
    await applyWorkloadFiles(root, [file("etc/a.conf", "a\n"), file("etc/b.conf", "b\n"), file("etc/c.conf", "c\n")]);
    await writeFile(join(root, "etc/c.conf"), "the Pi's c\n");
    const plan = await planWorkloadFiles(root, [file("etc/a.conf", "a2\n")]);
    expect({ write: plan.write.map((f) => f.path), remove: plan.remove, kept: plan.kept, manifestStale: plan.manifestStale }).toEqual({
      write: ["etc/a.conf"],
      remove: ["etc/b.conf"],
      kept: ["etc/c.conf"],
      manifestStale: true,
    });
    expect(await readFile(join(root, "etc/a.conf"), "utf8")).toBe("a\n");
    expect(await readFile(join(root, "etc/b.conf"), "utf8")).toBe("b\n");
  });

  it("on a role change removes pirack's old files, keeps ones the Pi changed, and never touches the Pi's own", async () => {
    await writeFile(join(root, "etc/pi-own.conf"), "mine\n");
    await applyWorkloadFiles(root, [file("etc/nginx/nginx.conf", "web\n"), file("etc/php/pool.conf", "pool\n"), file("etc/x.timer", "t\n")]);
    await writeFile(join(root, "etc/php/pool.conf"), "edited on the Pi\n");
    const report = await applyWorkloadFiles(root, [file("etc/nginx/nginx.conf", "cdn\n")]);
    expect(report).toMatchObject({ written: ["etc/nginx/nginx.conf"], removed: ["etc/x.timer"], kept: ["etc/php/pool.conf"] });
    expect(await readFile(join(root, "etc/php/pool.conf"), "utf8")).toBe("edited on the Pi\n");
    expect(await readFile(join(root, "etc/pi-own.conf"), "utf8")).toBe("mine\n");
  });

  it("replaces a symlink in the way instead of writing through it", async () => {
    const outside = join(root, "..", `outside-${Date.now()}`);
    await writeFile(outside, "fileserver file\n");
    await mkdir(join(root, "etc/nginx"), { recursive: true });
    await symlink(outside, join(root, "etc/nginx/nginx.conf"));
    await applyWorkloadFiles(root, [file("etc/nginx/nginx.conf", "ours\n")]);
    expect(await readFile(outside, "utf8")).toBe("fileserver file\n");
    await rm(outside);
  });

  it("refuses to write through a symlinked directory", async () => {
    await symlink("/tmp", join(root, "etc/nginx"));
    await expect(applyWorkloadFiles(root, [file("etc/nginx/nginx.conf", "x\n")])).rejects.toThrow(/refusing to write through it/);
  });
});
