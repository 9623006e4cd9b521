/** Protocol Pi emulator: byte-faithful Pi 3B / 3B+ / 4 / 5 netboot (DHCP, TFTP, NFS root) for tests and the bench. */
export { bootPi, type PiBootOptions, type PiBootResult, type PiStage, type StageEvent } from "./boot.ts";
export { BOOT_MARKER_PATH } from "./nfs-root.ts";
export { MODEL_PROFILES, PI_MODELS, parseModel, type PiModel } from "./models.ts";
export type { PiLink } from "./net.ts";
export { ensureFirmwareSet, type FirmwareSet } from "./firmware-set.ts";
