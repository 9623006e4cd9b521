/**
 * Cost as the rack grows: for each rack size (default 96, 480 and 4,000 Pis, in shelves of 96, VLANs up to
 * 4094), config validation + planning, the pass that enrols every Pi (btrfs snapshots on a loop device), a pass
 * with nothing to do, DHCP sockets opened (one per eth0.N, in a namespace of N veth interfaces) and the
 * daemon's memory at rest (`pirack serve` on that namespace after its passes). Prints each figure per size,
 * its growth factor against the previous size beside the growth of the port count, and its cost per port, so
 * linear and quadratic can be told apart. Needs root (loop device, mount, namespace).
 *
 *   sudo npx tsx bench/scale/run.ts [--ports 96,480,4000] [--no-roots-above N] [--keep-logs DIR] [--profile DIR]
 *
 * `--no-roots-above N`: racks of more than N Pis are measured with `enrol: manual` (every Pi identified by its
 * sighting, none cloned); the roots figures of those sizes are then absent, every other figure is measured.
 *
 * Everything it makes (the loop device and its mount, the namespace and its interfaces, the serve process,
 * temporary directories) is removed on exit, also after a failure or Ctrl-C.
 */
import { execa } from "execa";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { loadavg, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLoopFilesystem, type LoopFilesystem } from "../../rootfs/testing/loop-filesystem.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";
import { makeGolden, type PassFigures } from "./passes.ts";
import { measureDaemon, type DaemonFigures } from "./daemon.ts";
import { printTable } from "./report.ts";

const { values } = parseArgs({
  options: { ports: { type: "string", default: "96,480,4000" }, "keep-logs": { type: "string" }, "no-roots-above": { type: "string" }, profile: { type: "string" } },
});
// Racks above this size are measured with `enrol: manual` (Pis identified, no root cloned): a clone costs ~1 s of
// process spawns on a loaded 2-core machine, so 4,000 of them take over an hour.
const noRootsAbove = values["no-roots-above"] === undefined ? Infinity : Number(values["no-roots-above"]);
const sizes = (values.ports ?? "").split(",").map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--ports expects sizes like 96,480,4000, got ${values.ports}`);
if (process.getuid?.() !== 0) throw new Error("bench/scale needs root (loop device, mount, network namespace)");

const here = new URL(".", import.meta.url).pathname;
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`bench/scale ${new Date().toISOString()} on ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; loadavg ${load()}`);

const work = await mkdtemp(join(tmpdir(), "pirack-scale-"));
let fs: LoopFilesystem | undefined;
const cleanups: (() => Promise<void>)[] = [];
const cleanup = async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`));
  await fs?.release();
  fs = undefined;
  await rm(work, { recursive: true, force: true });
};
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));

try {
  // Room for 4,000 snapshots and their customised files (~0.1 MB each); sparse, so only what is used is written.
  fs = await createLoopFilesystem("btrfs", work, Math.max(1024, Math.ceil(Math.max(...sizes) / 2)));
  const images = await makeGolden(join(fs.mountPoint, "images"), (dir) => makeFixtureRoot(dir));
  const rows: { passes: PassFigures; daemon: DaemonFigures }[] = [];
  for (const n of sizes) {
    const dir = join(work, `rack-${n}`);
    const roots = n <= noRootsAbove;
    console.log(`\n${n} ports${roots ? "" : " (enrol: manual, no roots)"}: in-process phases (loadavg ${load()})`);
    const r = await execa("node", ["--import", "tsx", "--expose-gc", join(here, "passes-main.ts"), String(n), dir, fs.mountPoint, images, ...(roots ? [] : ["no-roots"])], {
      stderr: "inherit",
      // `--profile DIR`: the last two passes with nothing to do are CPU-profiled, one .cpuprofile per size in DIR.
      env: values.profile ? { PIRACK_SCALE_PROFILE: join(values.profile, `noop-pass-${n}.cpuprofile`) } : {},
    });
    const passes = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as PassFigures;
    console.log(`  ${JSON.stringify(passes)}`);
    console.log(`${n} ports: daemon on ${n} interfaces (loadavg ${load()})`);
    const daemon = await measureDaemon(n, dir, here, cleanups);
    console.log(`  ${JSON.stringify(daemon)}`);
    rows.push({ passes, daemon });
    const keep = values["keep-logs"];
    if (keep) for (const f of ["appliance.log", "serve.log", "config/rack.yaml"]) await cp(join(dir, f), join(keep, `rack-${n}`, f.replace("/", "-")));
  }
  printTable(rows);
  console.log(`\nloadavg at the end ${load()}`);
} finally {
  await cleanup();
}
