import { describe, expect, it } from "vitest";
import { renderProgressLine } from "./progress.ts";

describe("renderProgressLine", () => {
  const cases: Record<string, [Parameters<typeof renderProgressLine>[0], string]> = {
    "copy halfway": [{ phase: "copy", message: "copying", port: 1, bytesDone: 142_500_000, bytesTotal: 285_000_000 }, "port 1 copy [#####.....]  50% 143/285 MB"],
    "copy done": [{ phase: "copy", message: "copied", port: 2, bytesDone: 10, bytesTotal: 10 }, "port 2 copy [##########] 100% 0/0 MB"],
    "checkpoint past the estimate": [{ phase: "copy", message: "copying", bytesDone: 300, bytesTotal: 200 }, "copy [##########] 100% 0/0 MB"],
    "no byte counts": [{ phase: "clone", message: "cloning with snapshot", port: 3 }, "port 3 clone: cloning with snapshot"],
    "debootstrap line": [{ phase: "debootstrap", message: "Retrieving libc6 2.36-9" }, "debootstrap: Retrieving libc6 2.36-9"],
    "zero total": [{ phase: "copy", message: "empty image", bytesDone: 0, bytesTotal: 0 }, "copy: empty image"],
  };
  it.each(Object.entries(cases))("%s", (_n, [event, line]) => {
    expect(renderProgressLine(event, 10)).toBe(line);
  });
});
