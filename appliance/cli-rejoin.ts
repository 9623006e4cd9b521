/**
 * `pirack workloads rejoin <port> --config F` when no appliance answers: the same rejoin as the daemon's, run from
 * the state files (`failover.json` says who is primary and fenced, `power-held-off.json` keeps the fence) with the
 * switch reached directly. The daemon's controller is not running, so nothing else acts on the pair meanwhile.
 */
import type { Config } from "./config.ts";
import { CliFailure, cliLogger, EXIT_CONFIG } from "./cli-support.ts";
import { planRack } from "./plan.ts";

/** Rejoins the fenced db Pi on `port` without a running appliance; resolves to what rejoin reports. */
export async function rejoinOffline(config: Config, port: number) {
  const { writeFileAtomic } = await import("../lib/fs-atomic.ts");
  const { MetricsRegistry } = await import("../lib/metrics.ts");
  const { withPassLock } = await import("../lib/pass-lock.ts");
  const { heldOffFile, loadHeldOff } = await import("./rack.ts");
  const { SwitchOwner } = await import("./switch-owner.ts");
  const { failoverStore, httpProbe, loadOrCreateSecrets, nodesOf, rejoinDb, renderReplicaInto, requiredSecrets, ROLES, setAsideDatadir } = await import("../workloads/index.ts");
  const log = await cliLogger();
  const plan = planRack(config);
  const cluster = plan.workloads.cluster;
  const nodes = nodesOf(cluster, "db").map((n) => ({ name: n.name, port: n.port, address: n.storageAddress }));
  if (nodes.length !== 2) throw new CliFailure(`the config has ${nodes.length} db Pi(s); rejoin needs the pair`, EXIT_CONFIG);
  const stateDir = config.paths.state;
  const store = failoverStore({ stateDir, nodes });
  const record = await store.load();
  if (!record) throw new CliFailure(`${stateDir}: no failover state (workloads/failover.json): nothing has been fenced`, 1);
  let state = record.state;
  const switches = new SwitchOwner({ log, metrics: new MetricsRegistry() });
  await switches.configure(config);
  const rootOf = (p: number) => plan.ports.find((x) => x.port === p)!.exportPath;
  const db = config.workloads.db;
  try {
    return await rejoinDb(port, {
      controller: {
        current: () => state,
        unfence: async (name) => {
          state = { ...state, fenced: state.fenced.filter((n) => n !== name) };
          await store.save({ state, lastFailover: record.lastFailover });
        },
      },
      nodes,
      setAsideDatadir: async (n) => (await setAsideDatadir(rootOf(n.port), new Date())) ?? "(no datadir)",
      renderAsReplica: async (n, primary) => {
        const { secrets } = await loadOrCreateSecrets(stateDir, requiredSecrets(cluster, ROLES));
        await renderReplicaInto({ root: rootOf(n.port), name: n.name, primary, cluster, workloads: config.workloads, secrets, roles: ROLES });
      },
      powerOn: async (p) => {
        // The hold is released under the pass lock, so a one-shot pass running beside this never sees half of it.
        await withPassLock(stateDir, async () => {
          const held = (await loadHeldOff(stateDir, log)).filter((x) => x !== p);
          await writeFileAtomic(heldOffFile(stateDir), `${JSON.stringify({ ports: held.sort((a, b) => a - b) })}\n`, 0o600);
        });
        await switches.power(p, "on", { pollMs: 50, timeoutMs: 10_000 });
      },
      probe: httpProbe({ healthPort: db.healthPort, timeoutMs: db.failover.timeoutMs }),
      timeoutMs: 15 * 60_000,
    });
  } finally {
    await switches.close();
  }
}
