/**
 * Bringing a fenced old primary back, only ever as a fresh replica: its datadir is set aside (kept, it may hold
 * the writes nobody acknowledged), its files are re-rendered as a replica of the current primary, it is powered
 * on, and its first boot clones the primary's data and replicates from that GTID position.
 */
import { OperationError } from "../../lib/errors.ts";
import { isReplicating, type DbHealth } from "../db/health.ts";
import type { DbTarget } from "./adapters.ts";
import type { DbFailoverController } from "./controller.ts";

/** What rejoin touches, injected (the composition root owns roots, rendering and the switch). */
export interface RejoinDeps {
  readonly controller: Pick<DbFailoverController, "current" | "unfence">;
  readonly nodes: readonly DbTarget[];
  /** Moves the Pi's datadir aside in its root; returns where it went. */
  readonly setAsideDatadir: (node: DbTarget) => Promise<string>;
  /** Re-renders the Pi's db files as a replica of `primary`. */
  readonly renderAsReplica: (node: DbTarget, primary: string) => Promise<void>;
  readonly powerOn: (port: number) => Promise<void>;
  readonly probe: (node: DbTarget) => Promise<DbHealth | null>;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** How long the Pi may take to boot, clone and replicate. */
  readonly timeoutMs: number;
}

/** The outcome of a rejoin. */
export interface RejoinResult {
  readonly node: string;
  readonly primary: string;
  readonly datadirSetAside: string;
  readonly ms: number;
}

/** Rejoins the fenced db Pi on switch port `port`; throws OperationError when it cannot or does not replicate in time. */
export async function rejoinDb(port: number, deps: RejoinDeps): Promise<RejoinResult> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const node = deps.nodes.find((n) => n.port === port);
  if (!node) throw new OperationError("DB_REJOIN_NOT_DB", `port ${port} is not a db Pi (db ports: ${deps.nodes.map((n) => n.port).join(", ")})`);
  const state = deps.controller.current();
  if (!state.fenced.includes(node.name)) throw new OperationError("DB_REJOIN_NOT_FENCED", `db Pi ${node.name} (port ${port}) is not fenced; only a fenced old primary rejoins`);
  if (!state.primary || state.primary === node.name) throw new OperationError("DB_REJOIN_NO_PRIMARY", `no other db Pi is primary (recorded primary: ${state.primary ?? "none"})`);
  const t0 = now();
  const aside = await deps.setAsideDatadir(node);
  await deps.renderAsReplica(node, state.primary);
  await deps.powerOn(port);
  for (;;) {
    const h = await deps.probe(node);
    if (h && isReplicating(h)) break;
    if (now() - t0 > deps.timeoutMs) throw new OperationError("DB_REJOIN_TIMEOUT", `db Pi ${node.name} did not replicate from ${state.primary} within ${deps.timeoutMs} ms (last health: ${h ? h.role : "no answer"})`);
    await sleep(500);
  }
  await deps.controller.unfence(node.name);
  return { node: node.name, primary: state.primary, datadirSetAside: aside, ms: now() - t0 };
}
