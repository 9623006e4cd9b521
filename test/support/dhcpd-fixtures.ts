/** Loads the DHCP packet fixtures in `test/fixtures/dhcpd/` (one line of hex each; see its README). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Fixture names available in `test/fixtures/dhcpd/`. */
export type DhcpFixtureName =
  | "pi3-family-discover"
  | "pi3b-rom-discover"
  | "official-offer"
  | "appliance-offer-reference"
  | "pi4-discover"
  | "pi4-request"
  | "pi5-discover"
  | "pi5-request";

/** Directory holding the DHCP fixtures. */
export const dhcpFixtureDir = fileURLToPath(new URL("../fixtures/dhcpd/", import.meta.url));

/** The bytes of one fixture. */
export const dhcpFixture = (name: DhcpFixtureName): Buffer =>
  Buffer.from(readFileSync(`${dhcpFixtureDir}${name}.hex`, "utf8").trim(), "hex");
