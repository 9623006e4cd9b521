/**
 * Protocol Pi CLI: boots one emulated Pi from inside its network namespace and prints one JSON line per stage.
 *   ip netns exec <ns> node --import tsx bench/pi/main.ts --model 3b|3b+|4|5 --serial HEX --mac MAC --ifname IF
 *     [--fetch-dir DIR] [--nfs] [--timeout-s N] [--file-timeout-s N] [--public-vlan 131] [--netns NS] [--stay]
 * Exit 0 after `up`, 1 after `failed`, 2 on bad usage. With --stay it keeps running after `up` until killed
 * (a PoE-off is a SIGKILL or SIGTERM).
 */
import { parseArgs } from "node:util";
import { bootPi } from "./boot.ts";
import { macBytes } from "./dhcp-packets.ts";
import { parseModel } from "./models.ts";

const usage = "usage: main.ts --model 3b|3b+|4|5 --serial HEX --mac MAC --ifname IF [--fetch-dir DIR] [--nfs] [--timeout-s N] [--file-timeout-s N] [--public-vlan N] [--netns NS] [--stay]";

function parse() {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      serial: { type: "string" },
      mac: { type: "string" },
      ifname: { type: "string" },
      "fetch-dir": { type: "string" },
      nfs: { type: "boolean", default: false },
      "timeout-s": { type: "string", default: "120" },
      "public-vlan": { type: "string", default: "131" },
      "file-timeout-s": { type: "string" },
      netns: { type: "string" },
      stay: { type: "boolean", default: false },
    },
    strict: true,
  });
  const problems: string[] = [];
  for (const key of ["model", "serial", "mac", "ifname"] as const) if (!values[key]) problems.push(`--${key} is required`);
  const check = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      problems.push((err as Error).message);
    }
  };
  if (values.model) check(() => parseModel(values.model!));
  if (values.serial && !/^[0-9a-fA-F]{8}$/.test(values.serial)) problems.push(`--serial must be 8 hex digits (the low 32 bits of the serial), got ${values.serial}`);
  if (values.mac) check(() => macBytes(values.mac!));
  const timeoutS = Number(values["timeout-s"]);
  if (!(timeoutS > 0)) problems.push(`--timeout-s must be a positive number, got ${values["timeout-s"]}`);
  const publicVlan = Number(values["public-vlan"]);
  if (!Number.isInteger(publicVlan) || publicVlan < 1 || publicVlan > 4094) problems.push(`--public-vlan must be 1-4094, got ${values["public-vlan"]}`);
  const fileTimeoutS = values["file-timeout-s"] === undefined ? undefined : Number(values["file-timeout-s"]);
  if (fileTimeoutS !== undefined && !(fileTimeoutS > 0)) problems.push(`--file-timeout-s must be a positive number, got ${values["file-timeout-s"]}`);
  if (problems.length) {
    process.stderr.write(`${problems.join("\n")}\n${usage}\n`);
    process.exit(2);
  }
  return { values, timeoutS, publicVlan, fileTimeoutS };
}

const { values, timeoutS, publicVlan, fileTimeoutS } = parse();
const result = await bootPi({
  model: parseModel(values.model!),
  serial: values.serial!.toLowerCase(),
  mac: values.mac!.toLowerCase(),
  link: values.netns ? { ifname: values.ifname!, netns: values.netns } : { ifname: values.ifname! },
  ...(values["fetch-dir"] ? { fetchDir: values["fetch-dir"] } : {}),
  nfs: values.nfs,
  publicVlan,
  timeoutMs: timeoutS * 1000,
  ...(fileTimeoutS ? { fileTimeoutMs: fileTimeoutS * 1000 } : {}),
  onStage: (event) => process.stdout.write(`${JSON.stringify(event)}\n`),
});
if (result.ok && values.stay) {
  // Powered and running until the PoE rail (SIGTERM/SIGKILL) says otherwise.
  const stop = () => process.exit(0);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  setInterval(() => undefined, 1 << 30);
} else {
  process.exit(result.ok ? 0 : 1);
}
