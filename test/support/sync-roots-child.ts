/**
 * Test support: one `syncRoots` pass in a separate process, so a test can kill it with SIGKILL
 * mid-clone. Argument: JSON `{ pis, imagePath, strategy, sysroot }`. Prints each progress event
 * as one JSON line on stdout; exit code 0 when nothing failed.
 */
import { GaneshaExportsBackend } from "../../appliance/nfs-exports/index.ts";
import { syncRootsAndExports } from "../../appliance/reconcile/roots.ts";
import { createCommandRunner, type CloneStrategy, type PiRootSpec } from "../../rootfs/index.ts";

const args = JSON.parse(process.argv[2] ?? "{}") as { pis: PiRootSpec[]; imagePath: string; strategy: CloneStrategy; sysroot: string };
const quiet = { info: () => undefined, warn: (o: object, m: string) => process.stderr.write(`${m} ${JSON.stringify(o)}\n`), debug: () => undefined };
const run = createCommandRunner();
// No daemon to reload in this test: the file is what is checked.
const exports = new GaneshaExportsBackend({ sysroot: args.sysroot, reload: { kind: "command", file: "true", args: [] } }, { log: quiet, run });
const report = await syncRootsAndExports(
  { pis: args.pis, imagePath: args.imagePath, strategy: args.strategy, exports, hostKeyTypes: ["ed25519"] },
  { log: quiet, run, onProgress: (p) => process.stdout.write(JSON.stringify(p) + "\n") },
);
process.exitCode = report.roots.failed.length + (report.exports?.failed.length ?? 0) === 0 ? 0 : 1;
