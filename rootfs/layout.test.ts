import { describe, expect, it } from "vitest";
import { isTempFor, oldPathFor, oldStampOf, planOldRootPruning, stampOf, tempPathFor } from "./layout.ts";

const ROOT = "/export/10.46.189.2";

describe("storage layout", () => {
  it("keeps temporary and old trees beside the roots, on the same filesystem", () => {
    expect(tempPathFor(ROOT, "x1")).toBe("/export/.pirack/tmp/10.46.189.2.x1");
    expect(oldPathFor(ROOT, new Date("2026-11-29T14:05:01.123Z"))).toBe("/export/.pirack/old/10.46.189.2@20261129T140501Z");
  });

  it("never mistakes another Pi's temporary tree for this one's", () => {
    expect(isTempFor(ROOT, "10.46.189.2.20261129T140501Z-abc")).toBe(true);
    expect(isTempFor(ROOT, "10.46.189.22.20261129T140501Z-abc")).toBe(false);
  });

  it("formats stamps that sort as time", () => {
    expect(stampOf(new Date("2026-01-02T03:04:05Z"))).toBe("20260102T030405Z");
  });

  const entries = [
    "10.46.189.2@20261129T140501Z",
    "10.46.189.2@20261128T000000Z",
    "10.46.189.2@20261129T140501Z.1",
    "10.46.189.2@20250101T000000Z",
    "10.46.189.22@20200101T000000Z",
    "10.46.189.2@garbage",
  ];
  const cases: Record<string, [number, string[]]> = {
    "keep 2": [2, ["10.46.189.2@20261128T000000Z", "10.46.189.2@20250101T000000Z"]],
    "keep 0": [0, ["10.46.189.2@20261129T140501Z.1", "10.46.189.2@20261129T140501Z", "10.46.189.2@20261128T000000Z", "10.46.189.2@20250101T000000Z"]],
    "keep more than there are": [10, []],
  };
  it.each(Object.entries(cases))("prunes old roots: %s, never another Pi's or unknown entries", (_n, [keep, doomed]) => {
    expect(planOldRootPruning(ROOT, entries, keep)).toEqual(doomed);
  });

  it("reads stamps only from this Pi's entries", () => {
    expect(oldStampOf(ROOT, "10.46.189.2@20261129T140501Z")).toBe("20261129T140501Z");
    expect(oldStampOf(ROOT, "10.46.189.22@20261129T140501Z")).toBeUndefined();
  });
});
