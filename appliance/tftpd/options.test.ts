import { describe, expect, it } from "vitest";
import { negotiateOptions, type OptionLimits } from "./options.ts";

const limits: OptionLimits = { maxBlockSize: 1468, maxWindowSize: 16, defaultTimeoutMs: 1000, idleTimeoutMs: 15_000 };

describe("negotiateOptions", () => {
  const cases: Record<string, { asked: [string, string][]; blockSize: number; windowSize: number; timeoutMs: number; oack: [string, string][] }> = {
    "no options: RFC 1350 defaults and no OACK": { asked: [], blockSize: 512, windowSize: 1, timeoutMs: 1000, oack: [] },
    "Pi 4: tsize 0 + blksize 1024": {
      asked: [["tsize", "0"], ["blksize", "1024"]],
      blockSize: 1024,
      windowSize: 1,
      timeoutMs: 1000,
      oack: [["tsize", "4242"], ["blksize", "1024"]],
    },
    "blksize above the max is clamped": { asked: [["blksize", "65464"]], blockSize: 1468, windowSize: 1, timeoutMs: 1000, oack: [["blksize", "1468"]] },
    "absurd blksize is clamped": { asked: [["blksize", "99999999"]], blockSize: 1468, windowSize: 1, timeoutMs: 1000, oack: [["blksize", "1468"]] },
    "blksize below 8 is ignored": { asked: [["blksize", "7"]], blockSize: 512, windowSize: 1, timeoutMs: 1000, oack: [] },
    "non-numeric blksize is ignored": { asked: [["blksize", "-1"]], blockSize: 512, windowSize: 1, timeoutMs: 1000, oack: [] },
    "timeout echoed and used": { asked: [["timeout", "3"]], blockSize: 512, windowSize: 1, timeoutMs: 3000, oack: [["timeout", "3"]] },
    "timeout 0 is ignored": { asked: [["timeout", "0"]], blockSize: 512, windowSize: 1, timeoutMs: 1000, oack: [] },
"timeout 14 (below the 15 s idle limit) is used": { asked: [["timeout", "14"]], blockSize: 512, windowSize: 1, timeoutMs: 14_000, oack: [["timeout", "14"]] },
    "timeout 15 (not below the idle limit: no retransmission could happen) is ignored": { asked: [["timeout", "15"]], blockSize: 512, windowSize: 1, timeoutMs: 1000, oack: [] },
    "timeout 255 is ignored": { asked: [["timeout", "255"]], blockSize: 512, windowSize: 1, timeoutMs: 1000, oack: [] },
    "timeout 256 is ignored": { asked: [["timeout", "256"]], blockSize: 512, windowSize: 1, timeoutMs: 1000, oack: [] },
    "windowsize clamped": { asked: [["windowsize", "64"]], blockSize: 512, windowSize: 16, timeoutMs: 1000, oack: [["windowsize", "16"]] },
    "unknown options are not answered": { asked: [["multicast", ""], ["foo", "1"]], blockSize: 512, windowSize: 1, timeoutMs: 1000, oack: [] },
    "duplicate option: first wins": { asked: [["blksize", "1024"], ["blksize", "8"]], blockSize: 1024, windowSize: 1, timeoutMs: 1000, oack: [["blksize", "1024"]] },
  };
  it.each(Object.entries(cases))("%s", (_name, c) => {
    const n = negotiateOptions(c.asked, 4242, limits);
    expect({ blockSize: n.blockSize, windowSize: n.windowSize, timeoutMs: n.timeoutMs, oack: n.oack }).toEqual({
      blockSize: c.blockSize,
      windowSize: c.windowSize,
      timeoutMs: c.timeoutMs,
      oack: c.oack,
    });
  });

  it("never grants windowsize when windowing is disabled", () => {
    const n = negotiateOptions([["windowsize", "8"]], 1, { ...limits, maxWindowSize: 1 });
    expect(n.windowSize).toBe(1);
    expect(n.oack).toEqual([]);
    expect(n.ignored.map((i) => i.reason)).toEqual(["windowsize disabled"]);
  });
});
