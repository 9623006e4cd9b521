/**
 * What each Pi model's boot firmware does on the wire: its DHCP stages (sender layout, retry timings, whether
 * it sends a REQUEST) and its TFTP behaviour (options, block size, which file names in which order). Pure
 * data and small decisions; the sequence itself runs in boot.ts. Evidence: reference/pi-netboot.md.
 */
import { eepromGuid, pi3bRomGuid, serialGuid, type DhcpSender } from "./dhcp-packets.ts";

/** The models the emulator knows. */
export type PiModel = "3b" | "3b+" | "4" | "5";

/** Every model, in the CLI's spelling. */
export const PI_MODELS: readonly PiModel[] = ["3b", "3b+", "4", "5"];

/** One DHCP exchange as one firmware stage runs it. */
export interface DhcpStage {
  readonly sender: DhcpSender;
  readonly guid: Buffer;
  /** Full DISCOVER/OFFER/REQUEST/ACK (Pi 4/5), or DISCOVER/OFFER only (Pi 3 ROM and bootcode.bin). */
  readonly sendsRequest: boolean;
  /** Interval between DISCOVER (or REQUEST) retransmissions. */
  readonly retryMs: number;
  /** DISCOVERs before giving up, or the whole sequence's budget. */
  readonly attempts: number;
  /** The Pi 3 family's constant xid, or null for a fresh random one per sequence. */
  readonly fixedTransactionId: number | null;
}

/** TFTP request options of one firmware stage. */
export interface TftpProfile {
  /** ROM: no options at all (plain RRQ, 512-byte blocks). Later stages: `tsize 0`, Pi 4/5 also `blksize`. */
  readonly tsize: boolean;
  readonly blockSize: number | null;
  /** RRQ / ACK retransmission interval (Pi 4 RRQ re-sent every ~2 s, rpi-eeprom#74). */
  readonly retryMs: number;
  /** Whole-file budget (Pi 4/5 TFTP_FILE_TIMEOUT default 30 s). */
  readonly fileTimeoutMs: number;
}

/** Static facts of one model. */
export interface ModelProfile {
  readonly model: PiModel;
  readonly family: 3 | 4 | 5;
  /** Board revision code (Pi 4/5 option 97): 0x00a03111 4B 2 GB, 0x00d04170 Pi 5 8 GB (revision-codes.adoc). */
  readonly revision: number | null;
  /** Device tree the firmware asks for without `device_tree=` in config.txt (upstream names). */
  readonly deviceTree: string;
  /** Kernel names tried in order without `kernel=` (arm_64bit=1): Pi 5 kernel_2712.img first, then kernel8.img. */
  readonly kernels: readonly string[];
  /** initramfs the firmware loads with auto_initramfs=1 (Raspberry Pi OS's config.txt default). */
  readonly autoInitramfs: string;
}

const PI3_ROM_DHCP = { sendsRequest: false, retryMs: 5000, attempts: 5, fixedTransactionId: 0x26f30339 } as const;

/** Model facts; see each field's comment for the source. */
export const MODEL_PROFILES: Readonly<Record<PiModel, ModelProfile>> = {
  "3b": { model: "3b", family: 3, revision: null, deviceTree: "bcm2710-rpi-3-b.dtb", kernels: ["kernel8.img"], autoInitramfs: "initramfs8" },
  "3b+": { model: "3b+", family: 3, revision: null, deviceTree: "bcm2710-rpi-3-b-plus.dtb", kernels: ["kernel8.img"], autoInitramfs: "initramfs8" },
  "4": { model: "4", family: 4, revision: 0x00a03111, deviceTree: "bcm2711-rpi-4-b.dtb", kernels: ["kernel8.img"], autoInitramfs: "initramfs8" },
  "5": { model: "5", family: 5, revision: 0x00d04170, deviceTree: "bcm2712-rpi-5-b.dtb", kernels: ["kernel_2712.img", "kernel8.img"], autoInitramfs: "initramfs_2712" },
};

/** Parses a `--model` value. */
export function parseModel(value: string): PiModel {
  const model = PI_MODELS.find((m) => m === value.toLowerCase());
  if (!model) throw new Error(`unknown model ${JSON.stringify(value)}: expected one of ${PI_MODELS.join(", ")}`);
  return model;
}

/**
 * The DHCP exchanges of one boot, in order:
 * - Pi 3B: the ROM (GUID 0x44 x16, 12-entry option 55; 5 DISCOVERs 5 s apart, boot-net.adoc), then
 *   bootcode.bin does its own DHCP again with the same xid (serial x4 GUID; it keeps trying about a minute,
 *   raspberrypi/firmware#1124). Neither sends a REQUEST.
 * - Pi 3B+: the same, but its ROM already sends the serial x4 GUID and the 14-entry list (pi-netboot §1.3).
 * - Pi 4/5: one full DORA (DHCP_REQ_TIMEOUT 4 s between retransmissions, DHCP_TIMEOUT 45 s).
 */
export function dhcpStages(model: PiModel, id: { serial: string; mac: string }): DhcpStage[] {
  const profile = MODEL_PROFILES[model];
  const bootcode: DhcpStage = { sender: "pi3-family", guid: serialGuid(id.serial), ...PI3_ROM_DHCP, attempts: 12 };
  if (model === "3b") return [{ sender: "pi3b-rom", guid: pi3bRomGuid(), ...PI3_ROM_DHCP }, bootcode];
  if (model === "3b+") return [{ sender: "pi3-family", guid: serialGuid(id.serial), ...PI3_ROM_DHCP }, bootcode];
  const guid = eepromGuid({ family: profile.family as 4 | 5, revision: profile.revision!, mac: id.mac, serial: id.serial });
  return [{ sender: "eeprom", guid, sendsRequest: true, retryMs: 4000, attempts: 11, fixedTransactionId: null }];
}

// Per-file budgets: only the Pi 4/5 EEPROM documents one (TFTP_FILE_TIMEOUT, default 30 s, eeprom-bootloader.adoc);
// the Pi 3 ROM, bootcode.bin and start*.elf document none, so they get a generous 120 s. The emulator applies a
// budget as "no new block for that long" (tftp-client.ts), so a slow host (a 33 MB kernel in lock-step across
// the bench's OVS userspace datapath) does not fail a transfer that real hardware finishes well within it.
const UNDOCUMENTED_FILE_TIMEOUT_MS = 120_000;

/** Pi 3 ROM TFTP: plain RRQs, 512-byte blocks (pi-netboot §2.3; tcpdump lengths 21/20). */
export const ROM_TFTP: TftpProfile = { tsize: false, blockSize: null, retryMs: 1000, fileTimeoutMs: UNDOCUMENTED_FILE_TIMEOUT_MS };
/** bootcode.bin and start.elf: `tsize 0` only, 512-byte blocks (raspberrypi/firmware#1041 RRQ bytes). */
export const PI3_FIRMWARE_TFTP: TftpProfile = { tsize: true, blockSize: null, retryMs: 1000, fileTimeoutMs: UNDOCUMENTED_FILE_TIMEOUT_MS };
/** Pi 4 EEPROM: `tsize 0 blksize 1024` (rpi-eeprom#74 RRQ bytes), RRQ re-sent every ~2 s, TFTP_FILE_TIMEOUT 30 s. */
export const PI4_TFTP: TftpProfile = { tsize: true, blockSize: 1024, retryMs: 2000, fileTimeoutMs: 30_000 };
/** Pi 4 start4.elf, which loads config.txt, the DTB, cmdline.txt, kernel and initramfs (rpi-eeprom#375). */
export const PI4_FIRMWARE_TFTP: TftpProfile = { ...PI4_TFTP, fileTimeoutMs: UNDOCUMENTED_FILE_TIMEOUT_MS };
/**
 * Pi 5 EEPROM, which loads everything itself: TFTP_MAX_BLOCKSIZE 1468 (rpi-eeprom release notes 2022-10;
 * transfers at 1468 in rpi-eeprom#720), TFTP_FILE_TIMEOUT 30 s.
 */
export const PI5_TFTP: TftpProfile = { tsize: true, blockSize: 1468, retryMs: 2000, fileTimeoutMs: 30_000 };

/** What config.txt says that changes which files the firmware fetches next. */
export interface ConfigTxtChoices {
  readonly kernel: string | null;
  readonly initramfs: string | null;
  readonly autoInitramfs: boolean;
  readonly deviceTree: string | null;
}

/**
 * Reads the keys of config.txt that pick files (config_txt boot.adoc): `kernel=`, `initramfs <file>
 * [followkernel]` (no `=`), `auto_initramfs=`, `device_tree=`. Honours `[all]` and the model's own
 * conditional section (`[pi3]`, `[pi4]`, `[pi5]`); other sections are skipped. auto_initramfs defaults
 * to on here, as Raspberry Pi OS's config.txt sets it.
 */
export function parseConfigTxt(text: string, model: PiModel): ConfigTxtChoices {
  const own = `pi${MODEL_PROFILES[model].family}`;
  let active = true;
  let kernel: string | null = null;
  let initramfs: string | null = null;
  let autoInitramfs = true;
  let deviceTree: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      active = section[1] === "all" || section[1] === own;
      continue;
    }
    if (!active) continue;
    const initrd = /^initramfs\s+(\S+)/.exec(line);
    if (initrd) initramfs = initrd[1]!;
    const kv = /^(\w+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    if (kv[1] === "kernel") kernel = kv[2]!.trim();
    if (kv[1] === "auto_initramfs") autoInitramfs = kv[2]!.trim() !== "0";
    if (kv[1] === "device_tree") deviceTree = kv[2]!.trim();
  }
  return { kernel, initramfs, autoInitramfs, deviceTree };
}

/** The NFS root a kernel command line names (`nfsroot=[server:]path[,options]`, nfsroot.rst). */
export interface NfsRoot {
  readonly server: string | null;
  readonly path: string;
  readonly version: 3 | 4;
  readonly options: readonly string[];
}

/** Parses `nfsroot=` from cmdline.txt; null when absent. */
export function parseNfsRoot(cmdline: string): NfsRoot | null {
  const arg = cmdline
    .trim()
    .split(/\s+/)
    .find((a) => a.startsWith("nfsroot="));
  if (!arg) return null;
  const [location = "", ...options] = arg.slice("nfsroot=".length).split(",");
  const colon = location.indexOf(":/");
  const server = colon > 0 ? location.slice(0, colon) : null;
  const path = colon > 0 ? location.slice(colon + 1) : location;
  const vers = options.find((o) => o.startsWith("vers=") || o.startsWith("nfsvers="))?.split("=")[1];
  return { server, path, version: vers?.startsWith("4") ? 4 : 3, options };
}
