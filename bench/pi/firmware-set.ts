/**
 * Bench support: the real Raspberry Pi boot file set (reference/testbed.md §5), as the `boot.firmware`
 * directory pirack serves: Debian's raspi-firmware (bootcode.bin, start*.elf, fixup*.dat), the arm64 kernel's
 * Pi DTBs and overlays, the kernel as kernel8.img and a busybox NFS-root initrd.img. Built and cached by the
 * QEMU bench's artifacts module (bench/qemu/artifacts.ts, Debian's archive through a private apt configuration);
 * this is the protocol Pis' view of it.
 */
import { prepareArtifacts } from "../qemu/index.ts";

/** Where the set lives: `bootDir` is a ready `boot.firmware` directory (firmware, DTBs, kernel8.img, initrd.img). */
export interface FirmwareSet {
  readonly bootDir: string;
  /** Debian kernel release of the kernel8.img ("6.1.0-35-arm64"). */
  readonly kernelRelease: string;
  /** raspi-firmware package version. */
  readonly firmwareVersion: string;
}

/** Fetches (once; then from the cache) and returns the boot file set. */
export async function ensureFirmwareSet(cacheDir?: string): Promise<FirmwareSet> {
  const artifacts = await prepareArtifacts(cacheDir ? { cacheDir } : {});
  const firmware = artifacts.packages.find((p) => p.name === "raspi-firmware");
  return { bootDir: artifacts.firmwareDir, kernelRelease: artifacts.kernelVersion, firmwareVersion: firmware?.version ?? "unknown" };
}

// Run directly: fetch the set and print where it is.
if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await ensureFirmwareSet(process.argv[2])));
}
