/**
 * From the `cmdline.txt` a Pi fetched to the `-append` of a QEMU virt machine. Pure.
 *
 * The virt machine's UART is a PL011, which Linux names `ttyAMA0`, the same as a Pi's (the story's
 * `console=ttyAMA0,115200`). It has no display, so `console=tty1` must go: the kernel makes the *last*
 * `console=` the `/dev/console` that systemd writes to, and a tty1 without a screen would swallow it.
 * Every other word is kept byte for byte, so the guest boots exactly what pirack served.
 */

/** The serial console of QEMU's virt machine (PL011). */
export const VIRT_CONSOLE = "console=ttyAMA0,115200";

/** `cmdline.txt` text (first line only, as the Pi firmware reads it) -> QEMU `-append` value. */
export function adaptCmdlineForVirt(cmdlineTxt: string): string {
  const line = cmdlineTxt.split("\n")[0] ?? "";
  const words = line.trim().split(/\s+/).filter(Boolean);
  // Framebuffer/VT consoles (tty0, tty1, ...) have nothing behind them on virt.
  const kept = words.filter((w) => !/^console=tty\d+$/.test(w));
  const serial = kept.filter((w) => /^console=ttyAMA0(,|$)/.test(w));
  // The PL011 console goes last so it becomes /dev/console; one is added when cmdline.txt named none.
  const rest = kept.filter((w) => !serial.includes(w));
  return [...rest, serial.at(-1) ?? VIRT_CONSOLE].join(" ");
}
