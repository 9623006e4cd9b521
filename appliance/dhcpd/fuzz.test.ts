import { describe, expect, it } from "vitest";
import { DecodeError } from "../../lib/errors.ts";
import { fuzzPackets } from "../../test/support/dhcpd-fuzz.ts";
import { decodeDhcpPacket, encodeDhcpPacket } from "./codec.ts";
import { DhcpOption } from "./constants.ts";
import { macOfPacket } from "./option-values.ts";
import { decideDhcpReply, resolveDhcpSettings, type DhcpScope } from "./policy.ts";
import { identifyPi } from "./raspberry-pi.ts";

const scope: DhcpScope = { port: 1, vlan: 10, interfaceName: "eth0.10", serverAddress: "10.46.189.1", clientAddress: "10.46.189.2", netmask: "255.255.255.252" };
const settings = resolveDhcpSettings();
const COUNT = 100_000;

describe("codec and policy under 100,000 fuzzed packets", () => {
  it("only ever throws DecodeError, round-trips what it accepts, and answers with decodable replies", { timeout: 60_000 }, () => {
    const tally = { malformed: 0, accepted: 0, replies: 0 };
    for (const bytes of fuzzPackets(0x5eed, COUNT)) {
      let packet;
      try {
        packet = decodeDhcpPacket(bytes);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw new Error(`non-DecodeError for ${bytes.toString("hex")}`, { cause: err });
        tally.malformed++;
        continue;
      }
      tally.accepted++;
      if (!encodeDhcpPacket(packet).equals(bytes)) throw new Error(`round trip changed ${bytes.toString("hex")}`);
      const identity = identifyPi({ mac: macOfPacket(packet), option97: packet.options.get(DhcpOption.ClientMachineId), transactionId: packet.transactionId });
      const decision = decideDhcpReply({ request: packet, scope, settings, identity, knownPi: false });
      if (decision.kind === "reply") {
        tally.replies++;
        const reply = decodeDhcpPacket(encodeDhcpPacket(decision.packet));
        if (reply.optionItems.some((i) => i.code === 0)) throw new Error(`pad option in the reply to ${bytes.toString("hex")}`);
      }
    }
    // Every kind of outcome happens, so the generator exercises both paths.
    expect(tally.malformed).toBeGreaterThan(COUNT * 0.3);
    expect(tally.accepted).toBeGreaterThan(COUNT * 0.1);
    expect(tally.replies).toBeGreaterThan(COUNT * 0.05);
  });
});
