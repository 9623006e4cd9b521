/**
 * Bench step: build an arm64 golden image on this (x86) machine through the `--foreign` path -
 * debootstrap stage 1, then the second stage under qemu-user-static via binfmt_misc - exactly as
 * `pirack image build --arch arm64` does. Too slow for every CI run (minutes under emulation).
 *
 *   npx tsx bench/clone/arm64-image-build.ts [IMAGES_DIR] [MIRROR]
 *
 * Prints progress, then the image's size and time; the image is removed unless KEEP=1.
 */
import { execa } from "execa";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { buildImage, createCommandRunner, DEFAULT_MIRROR, parseDpkgStatus } from "../../rootfs/index.ts";

const imagesDir = process.argv[2] ?? (await mkdtemp("/var/tmp/pirack-arm64-"));
const mirror = process.argv[3] ?? DEFAULT_MIRROR;
const log = { info: (o: object, m: string) => console.log(`info: ${m} ${JSON.stringify(o)}`), warn: (o: object, m: string) => console.log(`warn: ${m} ${JSON.stringify(o)}`), debug: () => undefined };
const started = Date.now();
let lastPhase = "";
const result = await buildImage(
  { imagesDir, name: "bookworm-arm64", arch: "arm64", mirror },
  {
    log,
    run: createCommandRunner(),
    onProgress: (p) => {
      const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
      if (p.phase !== lastPhase || /Retrieving|Configuring|Installing|done/.test(p.message)) console.log(`[${t}s] ${p.phase}: ${p.message}`);
      lastPhase = p.phase;
    },
  },
);
const status = parseDpkgStatus(await readFile(join(result.path, "var/lib/dpkg/status"), "utf8"));
const file = await execa("file", ["-L", join(result.path, "usr/sbin/sshd")], { reject: false });
console.log(`arm64 image: ${(result.sizeBytes / 1e6).toFixed(0)} MB, ${status.length} packages, ${result.seconds.toFixed(0)} s; sshd: ${file.stdout.split(":").slice(1).join(":").trim()}`);
if (process.env["KEEP"] !== "1") await rm(imagesDir, { recursive: true, force: true });
