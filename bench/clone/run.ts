/**
 * Clone benchmark: N clones of a ~400 MB golden image per strategy - btrfs snapshot, reflink on
 * btrfs and XFS, pirack's plain copy on ext4 - against `cp -a` (the story's full copies) on ext4 in
 * the same run. Prints seconds per clone and the extra disk all N clones take, as a share of one image.
 *
 *   npx tsx bench/clone/run.ts [--clones 96] [--copies 4] [--image DIR] [--mib 400]
 *
 * Copy strategies write a whole image per clone, so only `--copies` of them are made and their
 * disk figure is scaled to N (a full copy's cost is linear). Needs root (loop devices, mounts).
 */
import { execa } from "execa";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cloneTree, createCommandRunner, RootStore, type CloneStrategy, type PiRootSpec } from "../../rootfs/index.ts";
import { createLoopFilesystem, type LoopFilesystem, type LoopFsKind } from "../../rootfs/testing/loop-filesystem.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";

const { values } = parseArgs({
  options: {
    clones: { type: "string", default: "96" },
    copies: { type: "string", default: "4" },
    enrol: { type: "string", default: "8" },
    image: { type: "string" },
    mib: { type: "string", default: "400" },
  },
});
const clones = Number(values.clones);
const copies = Number(values.copies);
const run = createCommandRunner();

/** A golden tree shaped like a Debian root: thousands of small files plus some large ones. */
async function synthGolden(dir: string, mib: number): Promise<void> {
  await makeFixtureRoot(dir);
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let bytes = 0;
  const target = mib * 2 ** 20;
  for (let i = 0; bytes < target; i++) {
    // 95 % small files (config, scripts, docs), 5 % larger (libraries, binaries); ~7,000 files for 400 MB.
    const size = rnd() < 0.95 ? Math.floor(512 + rnd() * 24_000) : Math.floor(200_000 + rnd() * 1_800_000);
    const sub = join(dir, "usr/share/bench", `d${i % 97}`);
    await mkdir(sub, { recursive: true });
    const buf = Buffer.alloc(size);
    for (let o = 0; o + 4 <= size; o += 4096) buf.writeUInt32LE((i * 7919 + o) >>> 0, o);
    await writeFile(join(sub, `f${i}`), buf);
    bytes += size;
  }
}

async function usedBytes(mp: string): Promise<number> {
  await execa("sync", ["-f", mp]);
  if ((await execa("stat", ["-f", "-c", "%T", mp])).stdout.trim() === "btrfs") await execa("btrfs", ["filesystem", "sync", mp]);
  const r = await execa("df", ["-B1", "--output=used", mp]);
  return Number(r.stdout.split("\n")[1]);
}

interface Row {
  name: string;
  fs: LoopFsKind;
  made: number;
  secondsPerClone: number;
  maxSeconds: number;
  extraBytesFor: number;
}

async function measure(fs: LoopFilesystem, name: string, golden: string, n: number, cloneOne: (target: string) => Promise<void>): Promise<Row> {
  const out = join(fs.mountPoint, `out-${name.replace(/\W+/g, "-")}`);
  await mkdir(out);
  const before = await usedBytes(fs.mountPoint);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await cloneOne(join(out, `10.46.${Math.floor(i / 64)}.${(i % 64) * 4 + 2}`));
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  const extra = (await usedBytes(fs.mountPoint)) - before;
  const row = { name, fs: fs.kind, made: n, secondsPerClone: times.reduce((a, b) => a + b, 0) / n, maxSeconds: Math.max(...times), extraBytesFor: (extra / n) * clones };
  console.log(`  ${name}: ${n} clones, ${row.secondsPerClone.toFixed(3)} s/clone (max ${row.maxSeconds.toFixed(3)}), extra disk ${(extra / 1e6).toFixed(1)} MB`);
  return row;
}

/**
 * What plug-in enrolment waits for: a whole root made the way `serve` makes it (clone, per-Pi
 * files, machine-id, ed25519/ecdsa/rsa host keys, syncfs, rename), per Pi.
 */
async function enrolment(fs: LoopFilesystem, golden: string, n: number): Promise<void> {
  if (n <= 0) return;
  const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined };
  const store = new RootStore({ imagePath: golden }, { log: quiet, run });
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const spec: PiRootSpec = {
      port: i + 1,
      name: `pi${i + 1}`,
      hostname: `pi${i + 1}`,
      piAddress: `10.46.189.${4 * i + 2}`,
      serverAddress: `10.46.189.${4 * i + 1}`,
      netmask: "255.255.255.252",
      publicVlan: 131,
      publicAddress: `2a00:1098:0:84:1000:1::${i + 2}`,
      publicGateway: "2a00:1098:0:84::1",
      exportPath: join(fs.mountPoint, "enrol", `10.46.189.${4 * i + 2}`),
    };
    const t = process.hrtime.bigint();
    const r = await store.apply([spec]);
    if (r.failed.length) throw r.failed[0]?.error;
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  console.log(`  enrolment (${fs.kind}, whole root incl. customisation): ${n} Pis, ${(times.reduce((a, b) => a + b, 0) / n).toFixed(3)} s/Pi (max ${Math.max(...times).toFixed(3)})`);
}

const work = await mkdtemp("/var/tmp/pirack-bench-clone-");
const filesystems: LoopFilesystem[] = [];
try {
  const rows: Row[] = [];
  let imageBytes = 0;
  const sizeMiB = Number(values.mib) * 4 + 2048;
  for (const kind of ["btrfs", "xfs", "ext4"] as const) {
    const fs = await createLoopFilesystem(kind, work, kind === "ext4" ? Number(values.mib) * (2 * copies + 2) + 1024 : sizeMiB);
    filesystems.push(fs);
    const golden = join(fs.mountPoint, "golden");
    if (kind === "btrfs") await execa("btrfs", ["subvolume", "create", golden]);
    else await mkdir(golden);
    if (values.image) await execa("bash", ["-c", 'cp -a --reflink=never "$1/." "$2"', "cp", values.image, golden]);
    else await synthGolden(golden, Number(values.mib));
    imageBytes = Number((await execa("du", ["-sx", "-B1", golden])).stdout.split(/\s/)[0]);
    const files = (await execa("bash", ["-c", 'find "$1" | wc -l', "find", golden])).stdout.trim();
    console.log(`${kind}: golden ${(imageBytes / 1e6).toFixed(0)} MB, ${files} entries`);
    const clone = (strategy: CloneStrategy) => (target: string) => cloneTree(golden, target, strategy, { run });
    if (kind === "btrfs") {
      rows.push(await measure(fs, "btrfs snapshot", golden, clones, clone("snapshot")));
      rows.push(await measure(fs, "btrfs reflink", golden, clones, clone("reflink")));
    } else if (kind === "xfs") {
      rows.push(await measure(fs, "xfs reflink", golden, clones, clone("reflink")));
    } else {
      rows.push(await measure(fs, "ext4 copy (pirack, tar pipe)", golden, copies, clone("copy")));
      rows.push(await measure(fs, "ext4 cp -a (reference)", golden, copies, async (t) => void (await execa("cp", ["-a", golden, t]))));
    }
    await enrolment(fs, golden, kind === "ext4" ? Math.min(Number(values.enrol), 2) : Number(values.enrol));
    await fs.release();
    filesystems.pop();
  }
  const reference = rows.find((r) => r.name.includes("reference"));
  console.log(`\n${clones} clones of a ${(imageBytes / 1e6).toFixed(0)} MB image (copy rows measured on ${copies} clones, disk scaled to ${clones}):`);
  console.log("strategy                         s/clone   max s   vs cp -a   extra disk for all   % of one image");
  for (const r of rows) {
    const ratio = reference ? r.secondsPerClone / reference.secondsPerClone : NaN;
    console.log(
      `${r.name.padEnd(32)} ${r.secondsPerClone.toFixed(3).padStart(7)} ${r.maxSeconds.toFixed(3).padStart(7)} ${ratio.toFixed(4).padStart(10)} ${(`${(r.extraBytesFor / 1e6).toFixed(0)} MB`).padStart(20)} ${((100 * r.extraBytesFor) / imageBytes).toFixed(1).padStart(15)}%`,
    );
  }
} finally {
  for (const fs of filesystems) await fs.release();
  await rm(work, { recursive: true, force: true });
}
