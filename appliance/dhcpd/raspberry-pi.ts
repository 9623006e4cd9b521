/**
 * Raspberry Pi firmware quirks seen in DHCP. Each quirk is a named function or constant with the model,
 * firmware and evidence (see /work/shared/reference/pi-netboot.md, "pi-netboot" below). Pure.
 */
import type { MacAddress } from "./option-values.ts";

/** Pi generation as far as DHCP can tell. */
export type PiFamily = 3 | 4 | 5;

/** What one request says about its sender. `model` is the best name DHCP allows ("4B", "3B", "3-family"). */
export interface PiIdentity {
  readonly isPi: boolean;
  readonly family: PiFamily | null;
  readonly model: string | null;
  /** Low 32 bits of the board serial, 8 lower-case hex digits (the TFTP prefix), when the request carries it. */
  readonly serial: string | null;
  /** Board revision code from a Pi 4/5 option 97 ("00a03111"). */
  readonly revision: string | null;
  /** Which evidence identified it: "option97-rom-constant", "option97-serial", "option97-fourcc", "oui", "xid". */
  readonly evidence: readonly string[];
}

/**
 * The Pi 3 family's ROM and bootcode.bin send this xid in every DISCOVER (pi-netboot §1.3: same value in
 * raspberrypi/firmware#859, #1362, piserver#125, RPi-PXE-Server#8).
 */
export const PI3_CONSTANT_XID = 0x26f30339;

/**
 * Raspberry Pi IEEE OUIs (pi-netboot §4: Debian ieee-data oui.txt and update-ieee-data); b8:27:eb is every
 * Pi 1/2/3, the others are Pi 4/5/400/CM4/CM5 (and Pico W, which does not netboot).
 */
export const RASPBERRY_PI_OUIS: ReadonlyMap<string, PiFamily | null> = new Map([
  ["b8:27:eb", 3],
  ["dc:a6:32", 4],
  ["e4:5f:01", 4],
  ["28:cd:c1", null],
  ["d8:3a:dd", 5],
  ["2c:cf:67", 5],
  ["88:a2:9e", null],
]);

/**
 * Board type (revision bits 4-11, new-style codes with bit 23 set) to model name
 * (raspberrypi/documentation revision-codes.adoc; pi-netboot §3.2).
 */
const BOARD_TYPES: ReadonlyMap<number, { model: string; family: PiFamily }> = new Map([
  [0x11, { model: "4B", family: 4 }],
  [0x13, { model: "400", family: 4 }],
  [0x14, { model: "CM4", family: 4 }],
  [0x15, { model: "CM4S", family: 4 }],
  [0x17, { model: "5", family: 5 }],
  [0x18, { model: "CM5", family: 5 }],
  [0x19, { model: "500", family: 5 }],
  [0x1a, { model: "CM5 Lite", family: 5 }],
]);

/** What option 97 alone tells. */
interface Option97Identity {
  readonly kind: "rom-constant" | "serial" | "fourcc";
  readonly family: PiFamily | null;
  readonly model: string | null;
  readonly serial: string | null;
  readonly revision: string | null;
}

const hex8 = (value: number): string => value.toString(16).padStart(8, "0");

/**
 * Decodes the Pi layouts of option 97 (client machine id, RFC 4578 §2.3: type byte 0 + 16 bytes):
 * - Pi 3B ROM (BCM2837A0): 16 x 0x44 ("DDDD..."), the documented "DHCP UUID constant" bug (boot-net.adoc).
 * - Pi 3B+ ROM, bootcode.bin, and Pi 4 EEPROM with DHCP_OPTION97=0: the 32-bit serial little-endian, 4 times
 *   (Hexxeh/rpi-firmware#269, piserver#125, rpi-eeprom#58).
 * - Pi 4/5 EEPROM since 2020-03: FourCC "RPi4"/"RPi5", board revision LE, 4 MAC bytes, serial LE
 *   (rpi-eeprom docs; real bytes 00:52:50:69:34:11:31:a0:00:... with serial 5b154510).
 */
export function decodeOption97(data: Buffer | undefined): Option97Identity | null {
  if (!data || data.length !== 17 || data[0] !== 0) return null;
  const guid = data.subarray(1);
  if (guid.every((b) => b === 0x44)) return { kind: "rom-constant", family: 3, model: "3B", serial: null, revision: null };
  const fourcc = guid.subarray(0, 4).toString("latin1");
  if (fourcc === "RPi4" || fourcc === "RPi5") {
    const revision = guid.readUInt32LE(4);
    const boardType = (revision >> 4) & 0xff;
    const newStyle = (revision & (1 << 23)) !== 0;
    const board = newStyle ? BOARD_TYPES.get(boardType) : undefined;
    const family: PiFamily = fourcc === "RPi4" ? 4 : 5;
    return {
      kind: "fourcc",
      family: board?.family ?? family,
      model: board?.model ?? `${family}-family`,
      serial: hex8(guid.readUInt32LE(12)),
      revision: hex8(revision),
    };
  }
  const word = guid.readUInt32LE(0);
  if (guid.readUInt32LE(4) === word && guid.readUInt32LE(8) === word && guid.readUInt32LE(12) === word && word !== 0) {
    return { kind: "serial", family: null, model: null, serial: hex8(word), revision: null };
  }
  return null;
}

/** The OUI ("b8:27:eb") of a MAC address. */
export const ouiOf = (mac: MacAddress): string => mac.slice(0, 8);

/** Identifies the sender of one request from option 97, the MAC's OUI and the Pi 3 constant xid. */
export function identifyPi(input: { mac: MacAddress | undefined; option97: Buffer | undefined; transactionId: number }): PiIdentity {
  const evidence: string[] = [];
  const fromOption97 = decodeOption97(input.option97);
  if (fromOption97) evidence.push(`option97-${fromOption97.kind}`);
  const ouiFamily = input.mac ? RASPBERRY_PI_OUIS.get(ouiOf(input.mac)) : undefined;
  if (ouiFamily !== undefined) evidence.push("oui");
  if (input.transactionId === PI3_CONSTANT_XID) evidence.push("xid");

  let family = fromOption97?.family ?? null;
  let model = fromOption97?.model ?? null;
  if (fromOption97?.kind === "serial") {
    // The serial-x4 layout is shared by the Pi 3 family (ROM of the 3B+, bootcode.bin) and Pi 4 EEPROMs
    // configured with DHCP_OPTION97=0; on a Pi 3 the MAC is b8:27:eb + the serial's low 24 bits (pi-netboot §4).
    const pi3 = ouiFamily === 3 || (input.mac !== undefined && input.mac.replace(/:/g, "").slice(6) === fromOption97.serial?.slice(2));
    family = pi3 ? 3 : (ouiFamily ?? 4);
    model = `${family}-family`;
  }
  if (family === null && ouiFamily) {
    family = ouiFamily;
    model = `${ouiFamily}-family`;
  }
  if (family === null && input.transactionId === PI3_CONSTANT_XID && fromOption97) {
    family = 3;
    model = "3-family";
  }
  return {
    isPi: fromOption97 !== null || ouiFamily !== undefined,
    family,
    model,
    serial: fromOption97?.serial ?? null,
    revision: fromOption97?.revision ?? null,
    evidence,
  };
}

/**
 * True for a Pi 3-family request (ROM or bootcode.bin): their stacks can wedge when the OFFER comes back
 * too fast, so dnsmasq setups use dhcp-reply-delay=1..2 and PiServer delays b8:27:eb (raspberrypi/firmware#934,
 * piserver src/piserver.cpp; pi-netboot §3.4).
 */
export function needsPi3OfferDelay(identity: PiIdentity, transactionId: number): boolean {
  return identity.family === 3 || (identity.isPi && transactionId === PI3_CONSTANT_XID);
}

/** Which PXE boot menu option 43 carries. */
export type PxeMenuVariant = "dnsmasq" | "pi3-padded";

/**
 * Option 43 bodies (PXE spec 2.1 §2.4.6 sub-options; pi-netboot §1.4, §8.4):
 * 06 01 03                  PXE_DISCOVERY_CONTROL = 3: no broadcast or multicast boot-server discovery
 * 0a 04 00 "PXE"            PXE_MENU_PROMPT: timeout 0, prompt "PXE"
 * 09 14 00 00 11 <17 text>  PXE_BOOT_MENU: boot server type 0, description length 17, "Raspberry Pi Boot"
 * ff                        end of sub-options
 * This is the exact 32-byte value dnsmasq sends for `pxe-service=0,"Raspberry Pi Boot"` (boot-net.adoc capture).
 * The padded variant ("Raspberry Pi Boot   ", 20 bytes) is what some Pi 3B ROM setups needed (RPi-PXE-Server,
 * raspberrypi/firmware#941 "no spaces on a 3B ROM").
 */
export const PXE_MENUS: Readonly<Record<PxeMenuVariant, Buffer>> = {
  dnsmasq: Buffer.from("0601030a0400505845091400001152617370626572727920506920426f6f74ff", "hex"),
  "pi3-padded": Buffer.from("0601030a0400505845091700001452617370626572727920506920426f6f74202020ff", "hex"),
};

/** Vendor class the Pi firmware sends (option 60) and the value a PXE reply must echo ("PXEClient"). */
export const PXE_VENDOR_CLASS = "PXEClient";

/** True when option 60 names a PXE client ("PXEClient:Arch:00000:UNDI:002001" from every Pi firmware). */
export const isPxeVendorClass = (vendorClass: string | undefined): boolean => vendorClass?.startsWith(PXE_VENDOR_CLASS) ?? false;
