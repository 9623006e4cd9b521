/** The table `bench/scale` ends with: every figure per rack size, its growth against the ports' growth, per port. */
import type { DaemonFigures } from "./daemon.ts";
import type { PassFigures } from "./passes.ts";

type Row = { passes: PassFigures; daemon: DaemonFigures };

const FIGURES: { name: string; unit: string; of: (r: Row) => number }[] = [
  { name: "config validation", unit: "ms", of: (r) => r.passes.validateMs },
  { name: "plan (all Pis learned)", unit: "ms", of: (r) => r.passes.planMs },
  { name: "first pass (interface files)", unit: "ms", of: (r) => r.passes.firstPassMs },
  { name: "DHCP sightings of every Pi", unit: "ms", of: (r) => r.passes.sightingsMs },
  { name: "enrol every Pi (clone+export)", unit: "ms", of: (r) => (r.passes.rootsCreated > 0 ? r.passes.enrolMs : NaN) },
  { name: "pass with nothing to do", unit: "ms", of: (r) => r.passes.noopPassMs },
  { name: "serve start-up pass (no-op)", unit: "ms", of: (r) => r.daemon.servePassMs },
  { name: "serve pass at rest (SIGHUP, no-op)", unit: "ms", of: (r) => r.daemon.serveRestPassMs },
  { name: "DHCP sockets opened", unit: "ms", of: (r) => r.daemon.dhcpOpenMs },
  { name: "drop-counter sample", unit: "ms", of: (r) => r.daemon.dropSampleMs },
  { name: "serve start (to ready)", unit: "ms", of: (r) => r.daemon.serveStartMs },
  { name: "RSS in process after passes", unit: "MiB", of: (r) => r.passes.rssMiB },
  { name: "RSS of serve at rest", unit: "MiB", of: (r) => r.daemon.serveRssMiB },
];

const cell = (v: number) => (Number.isNaN(v) ? "-" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Prints the figures as a markdown table: value per size, growth per step (with the ports' growth), per port. */
export function printTable(rows: readonly Row[]): void {
  const ports = rows.map((r) => r.passes.ports);
  const steps = rows.slice(1).map((r, i) => `x (ports x${(r.passes.ports / ports[i]!).toFixed(1)})`);
  const header = ["figure", ...ports.map((p) => `${p} ports`), ...steps, ...ports.map((p) => `per port @${p}`)];
  console.log(`\n| ${header.join(" | ")} |`);
  console.log(`|${header.map(() => "---").join("|")}|`);
  for (const f of FIGURES) {
    const v = rows.map(f.of);
    const growth = v.slice(1).map((x, i) => (Number.isNaN(x / v[i]!) ? "-" : (x / v[i]!).toFixed(2)));
    const perPort = v.map((x, i) => `${cell((x / ports[i]!) * (f.unit === "MiB" ? 1024 : 1000))} ${f.unit === "MiB" ? "KiB" : "µs"}`);
    console.log(`| ${f.name} (${f.unit}) | ${v.map(cell).join(" | ")} | ${growth.join(" | ")} | ${perPort.join(" | ")} |`);
  }
  console.log("\nGrowth equal to the ports' growth is linear; its square would be quadratic. Roots created (and checked by every later pass) per size: " + rows.map((r) => `${r.passes.ports}: ${r.passes.rootsCreated}`).join(", "));
}
