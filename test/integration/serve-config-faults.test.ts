/**
 * Broken, huge and replaced configs saved while `pirack serve` runs (issue 9, items 1-3): every one is a listed
 * problem, the last good config keeps running, DHCP (udhcpc) and TFTP (tftp-hpa) keep answering, and a later
 * good file is still noticed and loaded. At start, a broken config exits 2 with its problems.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdir, rename, rm, symlink, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isRoot } from "../support/netns.ts";
import { benchYaml, ServeBed, type LogLine } from "../support/serve-bed.ts";

const root = new URL("../..", import.meta.url).pathname;
const sb = new ServeBed();
/** A 1 KB "billion laughs": nine levels of nine aliases. */
const laughs = ["a: &a [x, x, x, x, x, x, x, x, x]", ..."bcdefghi".split("").map((l, i) => `${l}: &${l} [${Array(9).fill(`*${"abcdefgh"[i]}`).join(", ")}]`)].join("\n");

/** Saves `text` as the config the way editors do (write beside, rename over). */
async function save(text: string): Promise<void> {
  await writeFile(`${sb.config}.new`, text);
  await rename(`${sb.config}.new`, sb.config);
}

/** A good config that differs by its DHCP lease time, so each load is told apart in the log. */
const good = (leaseSeconds: number) => benchYaml(sb.dir, `dhcp: { leaseSeconds: ${leaseSeconds} }\n`);

/** Waits for the next "config rejected" or "config loaded" line after `from`. */
const nextReload = (from: number, timeoutMs = 30_000): Promise<LogLine> =>
  sb.waitLog((l) => l.msg === "config loaded" || String(l.msg).startsWith("config rejected"), timeoutMs, from);

/**
 * Waits for the next "config loaded" after `from`. A replacement in several steps (unlink, then create) may be
 * seen half-way as a missing file, which is rightly rejected first; only a rejection for another reason fails.
 */
async function nextLoaded(from: number): Promise<void> {
  const line = await sb.waitLog((l) => l.msg === "config loaded" || (String(l.msg).startsWith("config rejected") && !String((l.problems as string[])[0]).endsWith("cannot read (ENOENT)")), 30_000, from);
  expect(line).toMatchObject({ msg: "config loaded" });
}

/** After a rejection: the daemon runs, still serves DHCP and TFTP, and a later good file loads. */
async function stillServingAndReloads(lease: number): Promise<void> {
  expect(sb.running).toBe(true);
  await sb.dhcpLease();
  await sb.tftpFetch();
  const from = sb.lines.length;
  await save(good(lease));
  await nextLoaded(from);
}

describe.skipIf(!isRoot())("pirack serve under broken, huge and replaced configs (root)", () => {
  beforeAll(async () => {
    await sb.setUp("pr-cf");
    await writeFile(sb.config, good(3600));
    await sb.start();
    const leaseMs = await sb.dhcpLease();
    const tftpMs = await sb.tftpFetch();
    process.stdout.write(`[figures] reference: DHCP lease in ${leaseMs} ms, TFTP fetch in ${tftpMs} ms\n`);
  }, 120_000);
  afterAll(() => sb.cleanup());

  const broken: Record<string, [() => Promise<void>, RegExp]> = {
    "an alias to an undefined anchor": [() => save(good(1).replace("image: golden", "image: *golden")), /^\(yaml\): Unresolved alias .*golden$/],
    "a 1 KB billion laughs": [() => save(laughs), /^\(yaml\): Excessive alias count/],
    "a 50 MB file": [
      async () => {
        await writeFile(`${sb.config}.new`, `${good(1)}foo: 1\n`);
        await truncate(`${sb.config}.new`, 50 * 1024 * 1024);
        await rename(`${sb.config}.new`, sb.config);
      },
      /: is 52428800 bytes, above the 1048576-byte limit for a config$/,
    ],
    "a symlink to /dev/zero": [async () => (await unlink(sb.config), await symlink("/dev/zero", sb.config)), /: is a character device, not a regular file$/],
    "a YAML syntax error": [() => save("ports: [1, 2\nshelf: x"), /^\(yaml\) line \d+ column \d+: /],
  };
  let lease = 600;
  it.each(Object.entries(broken))("%s is a listed problem; serving goes on and a later good file loads", async (_, [breakIt, problem]) => {
    const from = sb.lines.length;
    await breakIt();
    const rejected = await nextReload(from);
    expect(rejected.msg).toBe("config rejected; keeping the last good config");
    expect((rejected.problems as string[])[0]).toMatch(problem);
    await stillServingAndReloads(++lease);
  }, 120_000);

  it("parses a slow 1 MiB file off the event loop: DHCP answers meanwhile, the parse is stopped at its time limit", async () => {
    // 90,000 short keys in under 1 MiB: the YAML library's duplicate-key check is quadratic (minutes on one thread).
    const text = `${good(1)}${Array.from({ length: 90_000 }, (_, i) => `k${i}: 1`).join("\n")}\n`.slice(0, 1024 * 1024);
    const from = sb.lines.length;
    await save(text);
    const leaseMs = await sb.dhcpLease();
    const tftpMs = await sb.tftpFetch();
    const rejected = await nextReload(from, 60_000);
    expect((rejected.problems as string[])[0]).toMatch(/took longer than 10000 ms to parse and validate/);
    process.stdout.write(`[figures] during a 1 MiB slow parse: DHCP lease in ${leaseMs} ms, TFTP fetch in ${tftpMs} ms\n`);
    expect(sb.lines.slice(from).some((l) => l.msg === "config loaded")).toBe(false);
    await stillServingAndReloads(++lease);
  }, 180_000);

  const replacements: Record<string, (text: string) => Promise<void>> = {
    "replaced by a symlink to an ordinary file": async (text) => {
      await writeFile(join(sb.dir, "elsewhere.yaml"), text);
      await unlink(sb.config);
      await symlink(join(sb.dir, "elsewhere.yaml"), sb.config);
    },
    "deleted and recreated": async (text) => (await unlink(sb.config), await writeFile(sb.config, text)),
    "renamed over": (text) => save(text),
    "its directory replaced": async (text) => {
      const conf = join(sb.dir, "conf");
      await rename(conf, `${conf}.old`);
      await mkdir(conf);
      await writeFile(sb.config, text);
      await rm(`${conf}.old`, { recursive: true });
    },
  };
  it.each(Object.entries(replacements))("config %s: loaded, and a later edit is still noticed", async (name, replace) => {
    let from = sb.lines.length;
    await replace(good(++lease));
    await nextLoaded(from);
    // The later edit: in place, through the symlink when there is one.
    from = sb.lines.length;
    const target = name.includes("symlink") ? join(sb.dir, "elsewhere.yaml") : sb.config;
    await writeFile(target, good(++lease));
    await nextLoaded(from);
    if (name.includes("symlink")) {
      from = sb.lines.length;
      await save(good(++lease));
      await nextLoaded(from);
    }
  }, 120_000);

  it("counts every rejection and the daemon never died", async () => {
    expect(sb.running).toBe(true);
    // At least: a missing file seen between two steps of a replacement is one more (correct) rejection.
    expect(await sb.metric('pirack_config_reloads_total{result="rejected"}')).toBeGreaterThanOrEqual(Object.keys(broken).length + 1);
  });
});

describe("pirack serve at start", () => {
  it.each([
    ["an alias to an undefined anchor", "image: *golden\n", /\(yaml\): Unresolved alias/],
    ["a symlink to /dev/zero", null, /is a character device, not a regular file/],
  ] as const)("exits 2 listing the problem for %s", async (_, text, problem) => {
    const dir = join("/var/tmp", `pirack-cf-start-${process.pid}-${Math.random().toString(16).slice(2)}`);
    await mkdir(dir, { recursive: true });
    try {
      const config = join(dir, "rack.yaml");
      if (text === null) await symlink("/dev/zero", config);
      else await writeFile(config, text);
      const r = await execa("node", [join(root, "bin/pirack.mjs"), "serve", "--config", config, "--sysroot", dir], { reject: false, timeout: 60_000 });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(problem);
      expect(r.stderr).not.toMatch(/ReferenceError|at .*\.ts:\d+/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
