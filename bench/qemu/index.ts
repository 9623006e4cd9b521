/** The bench's QEMU Pis: boot artifacts, golden image, the tap hand-off and the emulator itself. */
export { DEFAULT_CACHE_DIR, INITRD_NAME, KERNEL_NAME, artifactKey, prepareArtifacts } from "./artifacts.ts";
export type { ArtifactOptions, BenchArtifacts } from "./artifacts.ts";
export { adaptCmdlineForVirt, VIRT_CONSOLE } from "./cmdline.ts";
export { BENCH_GOLDEN, ensureGoldenImage, GOLDEN_NAME, goldenKey } from "./golden.ts";
export { ensureRoleLayer, layerKey } from "./layer.ts";
export type { RoleLayer } from "./layer.ts";
export type { GoldenImage, GoldenSpec } from "./golden.ts";
export { INITRAMFS_MODULES, moduleLoadOrder, renderInit } from "./initramfs.ts";
export { attachTap, detachTap, localMac } from "./link.ts";
export type { TapLink } from "./link.ts";
export { qemuArgs, startQemuPi } from "./qemu-pi.ts";
export type { QemuExit, QemuPi, QemuPiOptions } from "./qemu-pi.ts";
