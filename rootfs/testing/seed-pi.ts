/** The seed rack's Pi on `port` (DESIGN.md §5 numbering) as a root spec, for tests: port 1 has the story's exact values. */
import { join } from "node:path";
import type { PiRootSpec } from "../types.ts";

/** Port p: storage /30 number p-1 of 10.46.189.0/24, public address ...:1000:1::(p+1), root under `exportsDir`. */
export function seedPiSpec(port: number, exportsDir = "/export"): PiRootSpec {
  const pi = `10.46.189.${4 * port - 2}`;
  return {
    port,
    name: `pi0${port}`,
    hostname: `pi0${port}`,
    piAddress: pi,
    serverAddress: `10.46.189.${4 * port - 3}`,
    netmask: "255.255.255.252",
    publicVlan: 131,
    publicAddress: `2a00:1098:0:84:1000:1::${port + 1}`,
    publicGateway: "2a00:1098:0:84::1",
    exportPath: join(exportsDir, pi),
  };
}
