import { describe, expect, it } from "vitest";
import { parseCapture, percentile } from "./capture.ts";

// Shape of tcpdump 4.99 `-i any -n -tt -l -v` output, trimmed to the lines the parser reads.
const sample = `1795961879.717320 eth0.10 B   IP (tos 0x0, ttl 64, id 0, offset 0, flags [none], proto UDP (17), length 328)
    0.0.0.0.68 > 255.255.255.255.67: BOOTP/DHCP, Request from dc:a6:32:00:00:00, length 300, xid 0xc2692872, Flags [none]
	    DHCP-Message (53), length 1: Discover
1795961879.718320 eth0.11 B   IP (tos 0x0, ttl 64, id 0, offset 0, flags [none], proto UDP (17), length 328)
    0.0.0.0.68 > 255.255.255.255.67: BOOTP/DHCP, Request from dc:a6:32:00:00:01, length 300, xid 0x00000001, Flags [none]
	    DHCP-Message (53), length 1: Discover
1795961879.719820 eth0.10 Out IP (tos 0x0, ttl 64, id 0, offset 0, flags [none], proto UDP (17), length 360)
    10.47.0.1.67 > 255.255.255.255.68: BOOTP/DHCP, Reply, length 332, xid 0xc2692872, Flags [none]
	    DHCP-Message (53), length 1: Offer
1795961879.722320 eth0.11 Out IP (tos 0x0, ttl 64, id 0, offset 0, flags [none], proto UDP (17), length 360)
    10.47.0.5.67 > 255.255.255.255.68: BOOTP/DHCP, Reply, length 332, xid 0x00000001, Flags [none]
	    DHCP-Message (53), length 1: Offer
`;

describe("bench capture parsing", () => {
  it("pairs each DISCOVER with the OFFER on the same interface and xid", () => {
    expect(parseCapture(sample).offerLatenciesMs.map((x) => Math.round(x * 10) / 10)).toEqual([2.5, 4]);
  });
  const cases: Record<string, { values: number[]; p: number; expected: number }> = {
    "median of five": { values: [5, 1, 3, 2, 4], p: 50, expected: 3 },
    "p99 of a hundred is the 99th": { values: Array.from({ length: 100 }, (_, i) => i + 1), p: 99, expected: 99 },
    "none": { values: [], p: 50, expected: NaN },
  };
  it.each(Object.entries(cases))("percentile: %s", (_n, c) => expect(percentile(c.values, c.p)).toEqual(c.expected));
});
