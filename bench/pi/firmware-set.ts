/**
 * Bench support: the real Raspberry Pi boot file set, from Debian's archive (reference/testbed.md §5):
 * `raspi-firmware` (bookworm non-free-firmware: bootcode.bin, start*.elf, fixup*.dat) and the arm64 kernel
 * package (its `vmlinuz` as kernel8.img, its broadcom/ DTBs, as raspi-firmware's postinst hook copies them).
 * apt runs with a private arm64 state directory, so the host's apt configuration is never touched. Cached:
 * a second call with the same cache directory downloads nothing.
 */
import { execa } from "execa";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Where the set lives: `bootDir` is a ready `boot.firmware` directory (firmware, DTBs, kernel8.img). */
export interface FirmwareSet {
  readonly bootDir: string;
  /** Debian kernel release of the kernel8.img ("6.1.0-35-arm64"). */
  readonly kernelRelease: string;
  /** raspi-firmware package version. */
  readonly firmwareVersion: string;
}

/** Default cache, shared across runs (root-owned, like the rest of the bench). */
export const DEFAULT_FIRMWARE_CACHE = "/var/cache/pirack-bench/pi-firmware";

const exists = (path: string) => stat(path).then(() => true, () => false);

/** apt options for a private arm64 view of the host's Debian mirror (main + non-free-firmware). */
async function privateApt(aptDir: string): Promise<string[]> {
  await mkdir(join(aptDir, "lists/partial"), { recursive: true });
  await mkdir(join(aptDir, "cache/archives/partial"), { recursive: true });
  await mkdir(join(aptDir, "src"), { recursive: true });
  const sources = await readFile("/etc/apt/sources.list.d/debian.sources", "utf8").catch(() => "");
  const mirror = /^URIs:\s*(\S+)/m.exec(sources)?.[1] ?? "http://deb.debian.org/debian";
  await writeFile(
    join(aptDir, "src/arm64.sources"),
    `Types: deb\nURIs: ${mirror}\nSuites: bookworm bookworm-updates\nComponents: main non-free-firmware\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  );
  return [
    "-oAPT::Architecture=arm64",
    "-oAPT::Architectures=arm64",
    `-oDir::State::Lists=${join(aptDir, "lists")}`,
    "-oDir::Etc::SourceList=/dev/null",
    `-oDir::Etc::SourceParts=${join(aptDir, "src")}`,
    `-oDir::Cache=${join(aptDir, "cache")}`,
    "-oDir::State::status=/dev/null",
  ];
}

/** Downloads (once) and assembles the boot file set under `cacheDir`. */
export async function ensureFirmwareSet(cacheDir = DEFAULT_FIRMWARE_CACHE): Promise<FirmwareSet> {
  const bootDir = join(cacheDir, "boot");
  const stampFile = join(cacheDir, "boot.json");
  if ((await exists(stampFile)) && (await exists(bootDir))) {
    const stamp = JSON.parse(await readFile(stampFile, "utf8")) as Omit<FirmwareSet, "bootDir">;
    return { bootDir, ...stamp };
  }
  const apt = await privateApt(join(cacheDir, "apt"));
  await execa("apt-get", [...apt, "update", "-qq"]);
  const depends = await execa("apt-cache", [...apt, "depends", "linux-image-arm64"]);
  const kernelPackage = /Depends: (linux-image-\d\S*)/.exec(depends.stdout)?.[1];
  if (!kernelPackage) throw new Error(`cannot find the arm64 kernel package in: ${depends.stdout}`);
  const debs = join(cacheDir, "debs");
  await mkdir(debs, { recursive: true });
  await execa("apt-get", [...apt, "download", "-qq", kernelPackage, "raspi-firmware"], { cwd: debs });
  const files = await readdir(debs);
  const firmwareDeb = files.find((f) => f.startsWith("raspi-firmware_"));
  const kernelDeb = files.find((f) => f.startsWith(`${kernelPackage}_`));
  if (!firmwareDeb || !kernelDeb) throw new Error(`download incomplete in ${debs}: ${files.join(", ")}`);

  const unpack = join(cacheDir, "unpack");
  await rm(unpack, { recursive: true, force: true });
  await mkdir(join(unpack, "firmware"), { recursive: true });
  await mkdir(join(unpack, "kernel"), { recursive: true });
  await execa("dpkg-deb", ["-x", join(debs, firmwareDeb), join(unpack, "firmware")]);
  // Only /boot and the DTBs are needed from the kernel package; modules stay packed.
  await execa("sh", ["-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/*' './usr/lib/linux-image-*/broadcom/*'`, "sh", join(debs, kernelDeb), join(unpack, "kernel")]);

  const staging = `${bootDir}.new`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const fwDir = join(unpack, "firmware/usr/lib/raspi-firmware");
  for (const f of await readdir(fwDir)) if (/\.(bin|elf|dat)$/.test(f)) await copyFile(join(fwDir, f), join(staging, f));
  const kernelRelease = kernelPackage.replace(/^linux-image-/, "");
  const dtbDir = join(unpack, `kernel/usr/lib/linux-image-${kernelRelease}/broadcom`);
  for (const f of await readdir(dtbDir)) if (/^bcm27(1[01]|37|11|12).*\.dtb$/.test(f) || /^bcm2837|^bcm2711/.test(f)) await copyFile(join(dtbDir, f), join(staging, f));
  // What raspi-firmware's kernel hook does on a Debian Pi: the kernel image becomes the firmware's kernel8.img.
  await copyFile(join(unpack, `kernel/boot/vmlinuz-${kernelRelease}`), join(staging, "kernel8.img"));
  await rm(bootDir, { recursive: true, force: true });
  await rename(staging, bootDir);
  const firmwareVersion = firmwareDeb.split("_")[1] ?? "unknown";
  await writeFile(stampFile, JSON.stringify({ kernelRelease, firmwareVersion }) + "\n");
  await rm(unpack, { recursive: true, force: true });
  return { bootDir, kernelRelease, firmwareVersion };
}

// Run directly: fetch the set and print where it is.
if (import.meta.url === `file://${process.argv[1]}`) {
  const set = await ensureFirmwareSet(process.argv[2]);
  console.log(JSON.stringify(set));
}
