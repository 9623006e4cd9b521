import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, open, readFile, rename, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { ConfigWatcher } from "./config-watch.ts";

/** A watcher on `<dir>/conf/rack.yaml` that records each reported change and lets a test wait for the next. */
function harness(path: string, pollMs: number) {
  const seen: string[] = [];
  let wake: (() => void) | undefined;
  const watcher = new ConfigWatcher({
    path,
    log: pino({ level: "silent" }),
    pollMs,
    settleMs: 50,
    onChange: (why) => {
      seen.push(why);
      wake?.();
    },
  });
  const next = (what: string, timeoutMs = 10_000) => {
    const count = seen.length;
    return new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no change reported after ${what} (seen: ${JSON.stringify(seen)})`)), timeoutMs);
      wake = () => {
        if (seen.length > count) {
          clearTimeout(t);
          resolve(seen.at(-1)!);
        }
      };
    });
  };
  return { watcher, seen, next };
}

describe("ConfigWatcher", () => {
  let dir: string;
  let conf: string;
  let path: string;
  let h: ReturnType<typeof harness> | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-watch-"));
    conf = join(dir, "conf");
    await mkdir(conf);
    path = join(conf, "rack.yaml");
    await writeFile(path, "v: 1\n");
  });
  afterEach(async () => {
    await h?.watcher.close();
    h = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  // The poll is an hour here, so each of these is noticed by the directory watch alone, and then a later edit too.
  const replacements: Record<string, (p: string) => Promise<void>> = {
    "replaced by a symlink to /dev/zero": async (p) => (await unlink(p), await symlink("/dev/zero", p)),
    "replaced by a symlink to an ordinary file": async (p) => (await writeFile(`${p}.real`, "v: 2\n"), await unlink(p), await symlink(`${p}.real`, p)),
    "deleted and recreated": async (p) => (await unlink(p), await writeFile(p, "v: 2\n")),
    "renamed over (an editor's atomic save)": async (p) => (await writeFile(`${p}.tmp`, "v: 2\n"), await rename(`${p}.tmp`, p)),
    "deleted": (p) => unlink(p),
  };
  it.each(Object.entries(replacements))("%s, then edited: both noticed", async (_, replace) => {
    h = harness(path, 3_600_000);
    await h.watcher.start();
    let change = h.next("the replacement");
    await replace(path);
    await change;
    change = h.next("the later edit");
    await rm(path, { force: true });
    await writeFile(path, "v: 3\n");
    await change;
  });

  it("reports an in-place edit once, not once per write", async () => {
    h = harness(path, 3_600_000);
    await h.watcher.start();
    const change = h.next("the edit");
    await writeFile(path, "v: 2\n");
    await change;
    await new Promise((r) => setTimeout(r, 300));
    expect(h.seen).toHaveLength(1);
  });

  it("reads a file created empty and written a moment later once, with its content (a non-atomic save)", async () => {
    const contents: string[] = [];
    const watcher = new ConfigWatcher({
      path,
      log: pino({ level: "silent" }),
      pollMs: 3_600_000,
      settleMs: 50,
      onChange: async () => void contents.push(await readFile(path, "utf8").catch(() => "(missing)")),
    });
    h = { watcher, seen: contents, next: () => Promise.resolve("") };
    await watcher.start();
    await unlink(path);
    const fd = await open(path, "w");
    // Empty for 150 ms: three settle times, well inside the longer wait an empty file gets.
    await new Promise((r) => setTimeout(r, 150));
    await fd.write("v: 2\n");
    await fd.close();
    await new Promise((r) => setTimeout(r, 800));
    expect(contents).toEqual(["v: 2\n"]);
  });

  it("reports again a file that changed while the handler was reading it (the handler read a half-written file)", async () => {
    const contents: string[] = [];
    let first = true;
    const watcher = new ConfigWatcher({
      path,
      log: pino({ level: "silent" }),
      pollMs: 3_600_000,
      settleMs: 50,
      onChange: async () => {
        contents.push(await readFile(path, "utf8"));
        // The writer finishes while the first read is being handled: the handler saw the old text.
        if (!first) return;
        first = false;
        await writeFile(path, "v: 3\n");
      },
    });
    h = { watcher, seen: contents, next: () => Promise.resolve("") };
    await watcher.start();
    // Stop the directory watch from seeing the second write, so only the re-check after the handler can.
    (watcher as unknown as { disarm(): void }).disarm();
    await writeFile(path, "v: 2\n");
    await (watcher as unknown as { check(why: string): Promise<void> }).check("file changed");
    expect(contents).toEqual(["v: 2\n", "v: 3\n"]);
  });

  it("keeps following when the config's directory is removed and made again", async () => {
    h = harness(path, 200);
    await h.watcher.start();
    let change = h.next("removing the directory");
    await rm(conf, { recursive: true });
    await change;
    change = h.next("the directory and file coming back");
    await mkdir(conf);
    await writeFile(path, "v: 2\n");
    await change;
    change = h.next("a later edit");
    await writeFile(`${path}.tmp`, "v: 3\n");
    await rename(`${path}.tmp`, path);
    await change;
  });

  it("ignores other files in the directory", async () => {
    h = harness(path, 3_600_000);
    await h.watcher.start();
    await writeFile(join(conf, "other.yaml"), "x");
    await new Promise((r) => setTimeout(r, 400));
    expect(h.seen).toEqual([]);
  });
});
