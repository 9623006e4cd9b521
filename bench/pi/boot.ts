/**
 * One emulated Pi's power-on: the model's DHCP stages and TFTP fetch sequence with real firmware file names
 * (pi-netboot §2.1-2.3, §3.3), then optionally its NFS root. Reports one event per stage:
 * dhcp -> firmware -> kernel -> nfs -> up, or failed.
 */
import { randomInt } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { prefixLength } from "./dhcp-packets.ts";
import { runDhcpStage, type Lease } from "./dhcp-client.ts";
import { dhcpStages, MODEL_PROFILES, parseConfigTxt, parseNfsRoot, PI3_FIRMWARE_TFTP, PI4_FIRMWARE_TFTP, PI4_TFTP, PI5_TFTP, ROM_TFTP, type PiModel, type TftpProfile } from "./models.ts";
import { acceptAnyAddress, openPiSocket, releaseAnyAddress, takeAddress, type PiLink, type PiSocket } from "./net.ts";
import { visitNfsRoot } from "./nfs-root.ts";
import { tftpRead, type ReadOptions, type ReadResult } from "./tftp-client.ts";

/** Stage names, in boot order; `failed` ends a boot anywhere. */
export type PiStage = "dhcp" | "firmware" | "kernel" | "nfs" | "up" | "failed";

/** One stage report: `t` is ms since power-on; the rest are details. */
export interface StageEvent {
  readonly stage: PiStage;
  readonly t: number;
  readonly [detail: string]: unknown;
}

/** One Pi to boot. */
export interface PiBootOptions {
  readonly model: PiModel;
  /** Low 32 bits of the board serial, 8 hex digits (the TFTP prefix folder). */
  readonly serial: string;
  readonly mac: string;
  readonly link: PiLink;
  /** Save kernel.img, initrd.img, cmdline.txt, config.txt and the DTB here (for a QEMU Pi). */
  readonly fetchDir?: string;
  /** Mount the NFS root named by cmdline.txt, read it, write the boot marker. */
  readonly nfs?: boolean;
  /** The public VLAN whose `eth0.<vlan>` stanza is read from the root (default 131). */
  readonly publicVlan?: number;
  /** Whole boot budget (default 120 s). */
  readonly timeoutMs?: number;
  /** Replaces every per-file TFTP budget (no new block for this long; the Pi 4/5 EEPROM allows 30 s per file). */
  readonly fileTimeoutMs?: number;
  readonly onStage?: (event: StageEvent) => void;
  /** Injected for tests: the EEPROM's random xid, the clock. */
  readonly randomTransactionId?: () => number;
  readonly now?: () => number;
}

/** How a boot ended. */
export interface PiBootResult {
  readonly ok: boolean;
  readonly events: readonly StageEvent[];
}

class BootFailure extends Error {}

/** Boots one Pi; resolves after `up` or `failed` (never rejects). */
export async function bootPi(opts: PiBootOptions): Promise<PiBootResult> {
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const events: StageEvent[] = [];
  let ended = false;
  const emit = (stage: PiStage, details: Record<string, unknown> = {}) => {
    if (ended) return; // a timed-out boot's stragglers report nothing after `failed`
    if (stage === "failed") ended = true;
    const event: StageEvent = { stage, t: Math.round(now() - t0), ...details };
    events.push(event);
    opts.onStage?.(event);
  };
  const sockets = new Set<PiSocket>();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BootFailure(`boot did not finish within ${opts.timeoutMs ?? 120_000} ms`)), opts.timeoutMs ?? 120_000);
  });
  try {
    await Promise.race([run(opts, emit, sockets, now), deadline]);
    return { ok: true, events };
  } catch (err) {
    emit("failed", { reason: err instanceof Error ? err.message : String(err), after: events.at(-1)?.stage ?? "power" });
    return { ok: false, events };
  } finally {
    clearTimeout(timer);
    for (const s of sockets) s.close();
    await releaseAnyAddress(opts.link).catch(() => undefined);
  }
}

/** A file read with the stage's profile, remembered for the stage report. */
interface Fetched {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
  readonly data: Buffer | null;
}

async function run(opts: PiBootOptions, emit: (stage: PiStage, details?: Record<string, unknown>) => void, sockets: Set<PiSocket>, now: () => number): Promise<void> {
  const { link, model } = opts;
  const profile = MODEL_PROFILES[model];
  await acceptAnyAddress(link);
  const dhcpSocket = await openPiSocket(link, 68);
  sockets.add(dhcpSocket);
  const stages = dhcpStages(model, { serial: opts.serial, mac: opts.mac });
  const dhcp = async (i: number): Promise<Lease> => {
    // A fresh socket per exchange: replies for an earlier exchange must not reach this one's handler.
    const socket = i === 0 ? dhcpSocket : await openPiSocket(link, 68);
    sockets.add(socket);
    try {
      return await runDhcpStage({ socket, randomTransactionId: opts.randomTransactionId ?? (() => randomInt(0, 2 ** 32)) }, stages[i]!, opts.mac);
    } finally {
      socket.close();
      sockets.delete(socket);
    }
  };
  const lease = await dhcp(0);
  await takeAddress(link, lease.address, prefixLength(lease.netmask));
  await releaseAnyAddress(link);
  emit("dhcp", { address: lease.address, server: lease.tftpServer, xid: lease.transactionId.toString(16).padStart(8, "0"), discovers: lease.discovers, requests: lease.requests, ignored: lease.ignored });

  const server = lease.tftpServer;
  const missing: string[] = [];
  const fetched: Fetched[] = [];
  const read = async (name: string, tftp: TftpProfile, o: ReadOptions = {}): Promise<ReadResult> => {
    const profile = opts.fileTimeoutMs ? { ...tftp, fileTimeoutMs: opts.fileTimeoutMs } : tftp;
    const result = await tftpRead({ openSocket: () => openPiSocket(link, 0), now }, server, name, profile, o);
    if (result.status === "failed") throw new BootFailure(`TFTP ${name} from ${server}: ${result.reason}`);
    if (result.status === "missing") missing.push(name);
    if (result.status === "ok") fetched.push({ name, size: result.size, sha256: result.sha256, data: result.data });
    return result;
  };
  const need = async (name: string, tftp: TftpProfile, o: ReadOptions = {}): Promise<Fetched> => {
    const r = await read(name, tftp, o);
    if (r.status !== "ok") throw new BootFailure(`TFTP ${name} from ${server}: ${r.status === "missing" ? `not found (${r.message})` : r.status}`);
    return fetched.at(-1)!;
  };
  /** Size probe ("Early terminate") then the real read from a new port, as the firmware does for big files. */
  const probeThenRead = async (name: string, tftp: TftpProfile, o: ReadOptions = {}): Promise<Fetched | null> => {
    const probe = await read(name, tftp, { probe: true });
    if (probe.status !== "probed") return null;
    return need(name, tftp, o);
  };

  let prefix = "";
  let tftp: TftpProfile;
  if (profile.family === 3) {
    // ROM: plain RRQs for bootcode.bin, then bootsig.bin (expected to be missing), boot-net.adoc.
    await need("bootcode.bin", ROM_TFTP);
    await read("bootsig.bin", ROM_TFTP);
    // bootcode.bin runs and does its own DHCP again, same xid (raspberrypi/firmware#1124, Hexxeh/rpi-firmware#269).
    await dhcp(1);
    tftp = PI3_FIRMWARE_TFTP;
    // The serial-folder probe decides the prefix for every later file (boot-net.adoc; firmware#754).
    if ((await read(`${opts.serial}/start.elf`, tftp, { probe: true })).status === "probed") prefix = `${opts.serial}/`;
    await read(`${prefix}autoboot.txt`, tftp);
    await need(`${prefix}config.txt`, tftp, { keep: true });
    await read(`${prefix}recovery.elf`, tftp, { probe: true });
    await need(`${prefix}start.elf`, tftp);
    await need(`${prefix}fixup.dat`, tftp);
  } else if (profile.family === 4) {
    tftp = PI4_TFTP;
    // EEPROM: <pfx>/start4.elf then <pfx>/start.elf; neither found -> prefix cleared (eeprom-bootloader.adoc).
    if ((await read(`${opts.serial}/start4.elf`, tftp, { probe: true })).status === "probed" || (await read(`${opts.serial}/start.elf`, tftp, { probe: true })).status === "probed") prefix = `${opts.serial}/`;
    await need(`${prefix}config.txt`, tftp, { keep: true });
    for (const probe of ["vl805.sig", "pieeprom.sig", "recover4.elf", "recovery.elf"]) await read(`${prefix}${probe}`, tftp, { probe: true });
    if (!(await probeThenRead(`${prefix}start4.elf`, tftp))) throw new BootFailure(`TFTP ${prefix}start4.elf from ${server}: not found`);
    await need(`${prefix}fixup4.dat`, tftp);
  } else {
    tftp = PI5_TFTP;
    // Pi 5: no start.elf; the bootloader reads config.txt and loads the kernel itself (bootflow-eeprom.adoc).
    // Its prefix-detection file is undocumented: config.txt under the serial folder is tried first.
    if ((await read(`${opts.serial}/config.txt`, tftp, { probe: true })).status === "probed") prefix = `${opts.serial}/`;
    await need(`${prefix}config.txt`, tftp, { keep: true });
    await read(`${prefix}pieeprom.sig`, tftp, { probe: true });
  }
  if (profile.family === 4) tftp = PI4_FIRMWARE_TFTP; // start4.elf runs from here on
  emit("firmware", { prefix: prefix || null, files: fetched.length, bytes: fetched.reduce((n, f) => n + f.size, 0), missing: missing.length });

  // start*.elf (or the Pi 5 bootloader) now reads config.txt again and what it names.
  const config = profile.family === 5 ? fetched.find((f) => f.name === `${prefix}config.txt`)! : await need(`${prefix}config.txt`, tftp, { keep: true });
  const choices = parseConfigTxt(config.data!.toString("utf8"), model);
  if (profile.family !== 5) await read(`${prefix}dt-blob.bin`, tftp);
  const dtbName = choices.deviceTree ?? profile.deviceTree;
  const dtb = await read(`${prefix}${dtbName}`, tftp, { keep: Boolean(opts.fetchDir) });
  await read(`${prefix}overlays/overlay_map.dtb`, tftp);
  const cmdline = await need(`${prefix}cmdline.txt`, tftp, { keep: true });
  let kernel: Fetched | null = null;
  for (const name of choices.kernel ? [choices.kernel] : profile.kernels) {
    kernel = await probeThenRead(`${prefix}${name}`, tftp, { keep: Boolean(opts.fetchDir) });
    if (kernel) break;
  }
  if (!kernel) throw new BootFailure(`no kernel found (tried ${(choices.kernel ? [choices.kernel] : profile.kernels).join(", ")})`);
  const initrdName = choices.initramfs ?? (choices.autoInitramfs ? profile.autoInitramfs : null);
  const initrd = initrdName ? await probeThenRead(`${prefix}${initrdName}`, tftp, { keep: Boolean(opts.fetchDir) }) : null;
  const cmdlineText = cmdline.data!.toString("utf8");
  const saved = opts.fetchDir ? await saveForQemu(opts.fetchDir, { kernel, initrd, cmdline, config, dtb: dtb.status === "ok" ? fetched.find((f) => f.name === `${prefix}${dtbName}`)! : null }) : null;
  const brief = (f: Fetched | null) => (f ? { name: f.name, size: f.size, sha256: f.sha256 } : null);
  emit("kernel", { kernel: brief(kernel), initrd: brief(initrd), dtb: dtb.status === "ok" ? dtbName : null, cmdline: cmdlineText.trim(), files: fetched.length, bytes: fetched.reduce((n, f) => n + f.size, 0), missing, saved });

  if (!opts.nfs) {
    emit("up", { nfs: false });
    return;
  }
  const root = parseNfsRoot(cmdlineText);
  if (!root) throw new BootFailure(`cmdline.txt has no nfsroot=: ${cmdlineText.trim()}`);
  const nfsServer = root.server ?? server;
  const marker = `${opts.serial} ${opts.model} ${opts.mac} ${new Date().toISOString()}\n`;
  const visit = await visitNfsRoot(link, { ...root, server: nfsServer }, { publicVlan: opts.publicVlan ?? 131, marker, timeoutMs: 20_000, mountTimeoutMs: 60_000 });
  emit("nfs", { url: visit.url, hostname: visit.hostname, publicStanza: visit.publicStanza.split("\n").filter((l) => l.trim() && !l.startsWith("#")) });
  emit("up", { marker: visit.markerPath });
}

/** Writes what a QEMU Pi boots: kernel.img, initrd.img (when fetched), cmdline.txt, config.txt, the DTB. */
async function saveForQemu(dir: string, files: { kernel: Fetched; initrd: Fetched | null; cmdline: Fetched; config: Fetched; dtb: Fetched | null }): Promise<Record<string, string | null>> {
  await mkdir(dir, { recursive: true });
  const out: Record<string, string | null> = { kernel: join(dir, "kernel.img"), initrd: files.initrd ? join(dir, "initrd.img") : null, cmdline: join(dir, "cmdline.txt"), config: join(dir, "config.txt"), dtb: files.dtb ? join(dir, files.dtb.name.split("/").pop()!) : null };
  await writeFile(out["kernel"]!, files.kernel.data!);
  if (files.initrd) await writeFile(out["initrd"]!, files.initrd.data!);
  await writeFile(out["cmdline"]!, files.cmdline.data!);
  await writeFile(out["config"]!, files.config.data!);
  if (files.dtb?.data && out["dtb"]) await writeFile(out["dtb"], files.dtb.data);
  return out;
}
