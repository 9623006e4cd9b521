/**
 * The rack as one reconciled whole, shared by `serve` and the one-shot commands (`roots sync`, `roots rebuild`,
 * `switch apply`): the same subsystems, the same planner over the same learned identities (`paths.state`),
 * and the same cross-process pass lock, so a one-shot command and the daemon never undo each other.
 */
import { execa } from "execa";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import { writeFileAtomic } from "../lib/fs-atomic.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { withPassLock } from "../lib/pass-lock.ts";
import { systemClock } from "../lib/clock.ts";
import { Appliance, type ApplianceDeps } from "./appliance.ts";
import type { Config } from "./config.ts";
import { recoverLearned, saveLearned, type LearnedWriter } from "./learned-store.ts";
import type { RackPlan } from "./plan.ts";
import { desiredInterfaceFiles } from "./reconcile/fileserver-files.ts";
import { localFileStore, ManagedFiles } from "./reconcile/managed-files.ts";
import { bind, narrow, type BoundSubsystem } from "./reconcile/reconciler.ts";
import { exportsSubsystem, piRootSpecs, rootsSubsystem, rootStoreOptions } from "./reconcile/roots.ts";
import { desiredLinks, StorageLinks } from "./reconcile/storage-links.ts";
import { workloadsSubsystem } from "./reconcile/workloads.ts";
import { SwitchState, withPowerOverrides } from "./reconcile/switch-state.ts";
import { SwitchOwner } from "./switch-owner.ts";
import { createCommandRunner, rebuildRoot } from "../rootfs/index.ts";

/** Names of the subsystems, in pass order. */
export const SUBSYSTEMS = ["interface-files", "links", "roots", "workloads", "exports", "switch"] as const;
export type SubsystemName = (typeof SUBSYSTEMS)[number];

/** What the rack's subsystems are built from. */
export interface RackDeps {
  /** "/" for the real system; anything else keeps the fileserver's files below it. */
  readonly sysroot: string;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly switches: SwitchOwner;
  /** Only these subsystems (one-shot commands); all when absent. */
  readonly only?: readonly SubsystemName[];
  /** The switch subsystem to use (a one-shot `switch apply` reads its `lastApply`); one is made when absent. */
  readonly switchState?: SwitchState;
  /** Coalesces state-file writes (serve); each change is written at once when absent (one-shot commands). */
  readonly learnedWriter?: LearnedWriter;
  /** Write back recovered state and remove crash leftovers at open (default true; false for a dry run). */
  readonly recoverState?: boolean;
}

const isReal = (sysroot: string) => resolve(sysroot) === "/";

/**
 * The subsystems for a rack, in pass order; the switch goes last, so a slow or dead switch never delays a
 * Pi's files, links or root.
 */
export function rackSubsystems(app: Appliance, deps: RackDeps): BoundSubsystem<RackPlan>[] {
  const real = isReal(deps.sysroot);
  const cfg = (): Config => app.config;
  const run = async (cmd: string, args: readonly string[]) => (await execa(cmd, args)).stdout;
  const interfaceFiles = new ManagedFiles("interface-files", join(deps.sysroot, "etc/network/interfaces.d"), localFileStore);
  const rootsDeps = {
    log: deps.log.child({ component: "roots" }),
    metrics: deps.metrics,
    config: cfg,
    sysroot: real ? "/" : deps.sysroot,
    onRootCreated: (port: number) => void app.rootCreated(port),
  };
  const links = new StorageLinks({ ip: (args) => run("ip", args), parent: () => cfg().fileserver.interface });
  const switchState =
    deps.switchState ??
    new SwitchState(
      () => deps.switches.driver,
      () => deps.switches.poe,
    );
  const all: Record<SubsystemName, BoundSubsystem<RackPlan>> = {
    "interface-files": bind(interfaceFiles, (plan: RackPlan) => (cfg().fileserver.manageInterfaces ? desiredInterfaceFiles(plan) : undefined)),
    // Run-time links only on the real system; under a sysroot the files are the whole job.
    links: bind(links, (plan: RackPlan) => (real && cfg().fileserver.manageInterfaces ? desiredLinks(plan) : undefined)),
    roots: rootsSubsystem(rootsDeps),
    // After roots (a new root gets its files in the same pass), before exports (so it is complete when exported).
    workloads: workloadsSubsystem({ log: deps.log.child({ component: "workloads" }), config: cfg }),
    exports: exportsSubsystem(rootsDeps),
    switch: narrow(switchState, (plan: RackPlan) => (deps.switches.driver ? withPowerOverrides(plan.switchState, app.poweredOff) : undefined)),
  };
  return SUBSYSTEMS.filter((n) => !deps.only || deps.only.includes(n)).map((n) => all[n]);
}

/** Ports an operator powered off, kept beside the learned Pis so one-shot commands honour them too. */
export const heldOffFile = (stateDir: string): string => join(stateDir, "power-held-off.json");

/** Reads the held-off ports; a missing or damaged file holds nothing off (and says so). */
export async function loadHeldOff(stateDir: string, log: Logger): Promise<number[]> {
  try {
    const data = JSON.parse(await readFile(heldOffFile(stateDir), "utf8")) as { ports?: unknown };
    return Array.isArray(data.ports) ? data.ports.filter((p): p is number => Number.isInteger(p)) : [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") log.warn({ err, file: heldOffFile(stateDir) }, "held-off ports not loaded");
    return [];
  }
}

/** What is needed to build an `Appliance` for a rack: its state from `paths.state`, the shared lock. */
export async function applianceDeps(
  config: Config,
  deps: RackDeps & Pick<ApplianceDeps, "powerCycle">,
  current: () => Appliance,
): Promise<ApplianceDeps> {
  const stateDir = config.paths.state;
  // Lost or damaged state never un-exports a root: previous generation, then the roots on disk (learned-store.ts).
  const { pis: learned } = await recoverLearned(config, deps.log.child({ component: "state" }), { write: deps.recoverState ?? true });
  return {
    log: deps.log,
    clock: systemClock,
    metrics: deps.metrics,
    learned,
    heldOff: await loadHeldOff(stateDir, deps.log),
    persistLearned: (pis) => (deps.learnedWriter ? deps.learnedWriter.save(pis) : saveLearned(current().config.paths.state, pis)),
    persistHeldOff: (ports) => writeFileAtomic(heldOffFile(current().config.paths.state), `${JSON.stringify({ ports: [...ports].sort((a, b) => a - b) })}\n`, 0o600),
    passLock: (fn) => withPassLock(current().config.paths.state, fn, { onWait: (holder) => deps.log.info({ holder }, "waiting for another pirack process's pass") }),
    ...(deps.powerCycle ? { powerCycle: deps.powerCycle } : {}),
    subsystems: (self) => rackSubsystems(self, deps),
  };
}

/** Builds the appliance state for `config` with the rack's shared planner, identities and lock. */
export async function openAppliance(config: Config, deps: RackDeps & Pick<ApplianceDeps, "powerCycle">): Promise<Appliance> {
  const app: Appliance = new Appliance(config, await applianceDeps(config, deps, () => app));
  return app;
}

/**
 * Resets one enrolled Pi's root to its image (its role's layer, or golden; old root kept aside) under the pass
 * lock, then requests a pass: it writes the Pi's workload files and re-exports.
 */
export async function rebuildPort(app: Appliance, port: number, deps: Pick<RackDeps, "log" | "metrics">): Promise<{ path: string; oldPath: string | undefined; strategy: string }> {
  const config = app.config;
  const pis = piRootSpecs(app.plan, config);
  const result = await app.reconciler.exclusive(() => rebuildRoot({ ...rootStoreOptions(config), pis, port }, { log: deps.log, run: createCommandRunner(), metrics: deps.metrics }));
  await app.reconciler.request(`root of port ${port} rebuilt`);
  return { path: result.path, oldPath: result.oldPath, strategy: result.strategy };
}

/** Options of a one-shot pass from the command line. */
export interface OneShotOptions {
  readonly sysroot: string;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly only: readonly SubsystemName[];
}

/**
 * Opens the rack as `serve` does (same planner, learned identities and pass lock) with only some
 * subsystems, runs `fn` with it, and closes the switch again.
 */
export async function withOneShotRack<T>(config: Config, opts: OneShotOptions, fn: (app: Appliance, switchState: SwitchState) => Promise<T>): Promise<T> {
  const switches = new SwitchOwner({ log: opts.log, metrics: opts.metrics });
  const switchState = new SwitchState(
    () => switches.driver,
    () => switches.poe,
  );
  try {
    if (opts.only.includes("switch")) await switches.configure(config);
    const app = await openAppliance(config, { ...opts, switches, switchState });
    return await fn(app, switchState);
  } finally {
    await switches.close();
  }
}
