/**
 * The workloads subsystem joined to the rest of `serve` (composition): fencing and rejoin power through the
 * switch owner's write queue with the port held off (so no reconcile pass turns a fenced Pi back on), the spec
 * from the plan in force, and the subsystem's problems in the dashboard's panel.
 */
import type { Logger } from "pino";
import { OperationError } from "../lib/errors.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { WorkloadControllers, workloadProblems, type WorkloadsSpec } from "../workloads/index.ts";
export { tileWorkloads } from "../workloads/index.ts";
import type { Appliance } from "./appliance.ts";
import type { Health } from "./health.ts";
import type { SwitchOwner } from "./switch-owner.ts";

/** A fence or rejoin power step polls the switch's read-back this often (the default 250 ms adds to failover time). */
const FENCE_POWER = { pollMs: 50, timeoutMs: 10_000 } as const;

/** The subsystem's spec for the config and plan in force. */
export function workloadsSpec(app: Appliance): WorkloadsSpec {
  const plan = app.plan;
  return {
    cluster: plan.workloads.cluster,
    workloads: app.config.workloads,
    stateDir: app.config.paths.state,
    roots: Object.fromEntries(plan.ports.filter((p) => p.role !== "none").map((p) => [p.port, p.exportPath])),
  };
}

/** Builds the controllers over the switch owner and the appliance (not started: `configure` starts them). */
export function createWorkloads(deps: { log: Logger; metrics: MetricsRegistry; app: () => Appliance; switches: SwitchOwner }): WorkloadControllers {
  const { switches } = deps;
  return new WorkloadControllers({
    log: deps.log,
    metrics: deps.metrics,
    fence: async (port) => {
      // Held off first: from here on no pass (in this process or a one-shot one) powers the port on.
      deps.app().holdPower(port, "off");
      if (!switches.driver || !switches.poe) throw new OperationError("DB_FENCE_NO_POE", `cannot fence port ${port}: the rack has no PoE switch (switch.driver ${deps.app().config.switch.driver}, switch.poe ${String(deps.app().config.switch.poe)})`);
      await switches.power(port, "off", FENCE_POWER);
      deps.app().setPower(port, "off");
    },
    powerOn: async (port) => {
      deps.app().holdPower(port, "on");
      await switches.power(port, "on", FENCE_POWER);
      deps.app().setPower(port, "on");
    },
    powerState: async (port) => {
      const driver = switches.driver;
      if (!driver) return "unknown";
      const s = (await driver.poeStatus()).ports.find((p) => p.port === port);
      if (!s) return "unknown";
      return !s.adminOn && s.detection !== "deliveringPower" ? "off" : "on";
    },
  });
}

/** Why an operator's power action on `port` is refused, or null: a fenced old primary only comes back by rejoin. */
export function fencedPowerRefusal(workloads: Pick<WorkloadControllers, "isFenced">, port: number, action: "on" | "off" | "cycle"): string | null {
  if (action === "off" || !workloads.isFenced(port)) return null;
  return `port ${port} is a fenced old db primary: powering it ${action} as it is could bring back a second writable primary; use \`pirack workloads rejoin ${port}\` (POST /api/v1/workloads/rejoin), which re-clones it as a replica`;
}

/**
 * Keeps the rest of the appliance in line with the controllers: every fenced port held off (a lost
 * power-held-off.json never un-fences), and the workloads' problems in the dashboard's panel.
 */
export function syncWorkloads(workloads: WorkloadControllers, app: Appliance, health: Health, shown: Set<string>): void {
  for (const port of workloads.fencedPorts()) if (!app.poweredOff.has(port)) app.holdPower(port, "off");
  const now = new Set<string>();
  for (const p of workloadProblems(workloads.status())) {
    const key = `workloads:${p.key}`;
    now.add(key);
    health.set(key, { subsystem: "workloads", port: p.port, text: p.text });
  }
  for (const key of shown) if (!now.has(key)) health.set(key, null);
  shown.clear();
  for (const key of now) shown.add(key);
}
