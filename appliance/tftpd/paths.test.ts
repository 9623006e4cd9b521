import { describe, expect, it } from "vitest";
import { resolveRequestPath } from "./paths.ts";

describe("resolveRequestPath", () => {
  const accepted = {
    "root-relative firmware file": ["bootcode.bin", { serialFolder: null, relativePath: "bootcode.bin", generated: null }],
    "serial folder": ["0660cd37/start4.elf", { serialFolder: "0660cd37", relativePath: "start4.elf", generated: null }],
    "serial folder, overlay": ["d9780558/overlays/vc4-kms-v3d.dtbo", { serialFolder: "d9780558", relativePath: "overlays/vc4-kms-v3d.dtbo", generated: null }],
    "MAC folder (TFTP_PREFIX=2)": ["dc-a6-32-01-36-c2/start4.elf", { serialFolder: "dc-a6-32-01-36-c2", relativePath: "start4.elf", generated: null }],
    "generated cmdline.txt under serial": ["0660cd37/cmdline.txt", { serialFolder: "0660cd37", relativePath: "cmdline.txt", generated: "cmdline.txt" }],
    "generated config.txt at root": ["config.txt", { serialFolder: null, relativePath: "config.txt", generated: "config.txt" }],
    "uppercase hex is not a serial folder": ["0660CD37/start.elf", { serialFolder: null, relativePath: "0660CD37/start.elf", generated: null }],
    "a lone 8-hex name is a file": ["0660cd37", { serialFolder: null, relativePath: "0660cd37", generated: null }],
    "config.txt in a subfolder is shared": ["overlays/config.txt", { serialFolder: null, relativePath: "overlays/config.txt", generated: null }],
  } as const;
  it.each(Object.entries(accepted))("accepts %s", (_name, [input, expected]) => {
    expect(resolveRequestPath(input)).toEqual(expected);
  });

  const refused = {
    "parent directory": ["../etc/passwd", "traversal"],
    "parent directory under serial": ["0660cd37/../../etc/passwd", "traversal"],
    "parent after a file": ["big.bin/../../../../etc/hostname", "traversal"],
    "absolute path": ["/etc/passwd", "absolute"],
    "backslashes": ["..\\..\\etc\\passwd", "backslash"],
    "NUL": ["a\u0000b", "control-character"],
    "newline": ["a\nb", "control-character"],
    "empty": ["", "empty"],
    "double slash": ["a//b", "bad-segment"],
    "dot segment": ["./a", "bad-segment"],
    "trailing slash": ["overlays/", "bad-segment"],
    "too long": ["a".repeat(256), "too-long"],
  } as const;
  it.each(Object.entries(refused))("refuses %s", (_name, [input, reason]) => {
    expect(resolveRequestPath(input)).toEqual({ refused: reason });
  });
});
