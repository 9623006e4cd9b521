/**
 * What the workload controllers show (pure): every role node with its last health, the CDN upstreams, the db
 * pair (primary, replica, fenced, unprotected, semi-sync, last failover), recent events, and the problems the
 * dashboard lists. Built from the controllers' own status objects; no I/O.
 */
import type { WebState } from "./cdn/controller.ts";
import type { WorkloadsConfig } from "./config.ts";
import { describeDbHealth } from "./db/health.ts";
import type { DbStatus, LastFailover } from "./failover/controller.ts";
import type { Cluster, Health, RoleName } from "./role.ts";

/** The last probe of a web or CDN Pi. */
export interface NodeCheck {
  readonly health: Health;
  readonly at: string;
  /** Failed probes in a row. */
  readonly failures: number;
}

/** One recorded event of the subsystem (drain, return, rejoin...) or of the db controller. */
export interface WorkloadsEvent {
  readonly at: string;
  readonly event: string;
  readonly [field: string]: unknown;
}

/** One role node as the API shows it. */
export interface NodeView {
  readonly node: string;
  readonly port: number;
  readonly role: RoleName;
  /** null before the first probe. */
  readonly healthy: boolean | null;
  readonly detail: string;
  readonly checkedAt: string | null;
  /** Failed probes (polls) in a row. */
  readonly failures: number;
  /** web: drained from the CDN upstreams; db: fenced (powered off until rejoined). */
  readonly drained?: boolean;
  readonly fenced?: boolean;
}

/** `GET /api/v1/workloads`. */
export interface WorkloadsStatus {
  readonly nodes: readonly NodeView[];
  readonly cdn: { readonly upstream: readonly { node: string; drained: boolean; reason: string | null; lastDetail: string }[] } | null;
  readonly db: {
    readonly primary: string | null;
    readonly replica: string | null;
    readonly fenced: readonly { node: string; port: number }[];
    readonly unprotected: boolean;
    /** The primary's semi-sync master status at its last poll (null when not known). */
    readonly semiSync: boolean | null;
    readonly failover: { readonly enabled: boolean; readonly autoRejoin: boolean };
    readonly lastFailover: LastFailover | null;
    readonly rejoining: { port: number; node: string; startedAt: string } | null;
    /** Why the db controller does not run, when it does not. */
    readonly problem: string | null;
  } | null;
  readonly events: readonly WorkloadsEvent[];
}

/** Inputs of `statusOf`. */
export interface StatusInputs {
  readonly cluster: Cluster;
  readonly workloads: WorkloadsConfig | null;
  readonly checks: ReadonlyMap<string, NodeCheck>;
  readonly cdn: readonly WebState[] | null;
  readonly db: DbStatus | null;
  readonly dbProblem: string | null;
  readonly rejoining: { port: number; node: string; startedAt: string } | null;
  readonly events: readonly WorkloadsEvent[];
}

/** Builds the API view. */
export function statusOf(i: StatusInputs): WorkloadsStatus {
  const fenced = new Set(i.db?.state.fenced ?? []);
  const nodes = i.cluster.nodes.map((n): NodeView => {
    const base = { node: n.name, port: n.port, role: n.role };
    if (n.role === "db") {
      const d = i.db?.nodes.find((x) => x.name === n.name);
      if (fenced.has(n.name)) return { ...base, healthy: false, detail: "fenced: powered off until it rejoins as a replica", checkedAt: null, failures: d?.failures ?? 0, fenced: true };
      if (!d) return { ...base, healthy: null, detail: i.dbProblem ?? "not polled yet", checkedAt: null, failures: 0, fenced: false };
      const detail = d.health ? describeDbHealth(d.health) : d.failures > 0 ? "health endpoint did not answer" : "not polled yet";
      return { ...base, healthy: d.health ? d.health.up : d.failures > 0 ? false : null, detail, checkedAt: null, failures: d.failures, fenced: false };
    }
    const c = i.checks.get(n.name);
    const drained = n.role === "web" && i.cdn ? { drained: i.cdn.find((s) => s.name === n.name)?.drained ?? false } : {};
    return { ...base, healthy: c ? c.health.healthy : null, detail: c?.health.detail ?? "not probed yet", checkedAt: c?.at ?? null, failures: c?.failures ?? 0, ...drained };
  });
  const dbEvents = (i.db?.events ?? []).map((e) => ({ ...e }) as WorkloadsEvent);
  const events = [...dbEvents, ...i.events].sort((a, b) => a.at.localeCompare(b.at)).slice(-50);
  let db: WorkloadsStatus["db"] = null;
  if (i.db || i.dbProblem) {
    const primary = i.db?.state.primary ?? null;
    const replica = i.db?.nodes.find((n) => n.name !== primary && !fenced.has(n.name))?.name ?? null;
    const primaryHealth = i.db?.nodes.find((n) => n.name === primary)?.health;
    const f = i.workloads?.db.failover;
    db = {
      primary,
      replica,
      fenced: (i.db?.nodes ?? []).filter((n) => fenced.has(n.name)).map((n) => ({ node: n.name, port: n.port })),
      unprotected: i.db?.state.unprotected ?? true,
      semiSync: primaryHealth?.up ? primaryHealth.semiSync.status : null,
      failover: { enabled: f?.enabled ?? false, autoRejoin: f?.autoRejoin ?? false },
      lastFailover: i.db?.lastFailover ?? null,
      rejoining: i.rejoining,
      problem: i.dbProblem,
    };
  }
  const cdn = i.cdn ? { upstream: i.cdn.map((s) => ({ node: s.name, drained: s.drained, reason: s.reason ?? null, lastDetail: s.lastDetail })) } : null;
  return { nodes, cdn, db, events };
}

/** A role Pi's tile on the dashboard: its role, a one-word state and the detail line. */
export interface TileWorkload {
  readonly role: string;
  readonly healthy: boolean | null;
  readonly state: string;
  readonly detail: string;
}

/** Per port, what each role Pi's dashboard tile says of its workload (pure). */
export function tileWorkloads(s: WorkloadsStatus): Map<number, TileWorkload> {
  const out = new Map<number, TileWorkload>();
  for (const n of s.nodes) {
    let state = n.healthy === null ? "unknown" : n.healthy ? "ok" : "down";
    if (n.role === "db") {
      if (n.fenced) state = "fenced";
      else if (n.healthy) state = s.db?.primary === n.node ? "primary" : "replica";
    } else if (n.drained) state = "drained";
    out.set(n.port, { role: n.role, healthy: n.healthy, state, detail: n.detail });
  }
  return out;
}

/** A problem for the dashboard's panel, keyed so that it clears itself. */
export interface WorkloadsProblem {
  readonly key: string;
  readonly port: number | null;
  readonly text: string;
}

/** Problems in words: a fenced old primary waiting to rejoin, a role node failing its probes, a db controller down. */
export function workloadProblems(s: WorkloadsStatus, failsBeforeProblem = 2): WorkloadsProblem[] {
  const out: WorkloadsProblem[] = [];
  for (const n of s.nodes) {
    if (n.fenced) {
      out.push({ key: `fenced:${n.node}`, port: n.port, text: `${n.node} (db, port ${n.port}) is a fenced old primary, kept powered off; \`pirack workloads rejoin ${n.port}\` brings it back as a replica of ${s.db?.primary ?? "the new primary"}` });
      continue;
    }
    if (n.healthy === false && (n.failures >= failsBeforeProblem || n.drained)) {
      const drained = n.drained ? "; drained from the CDN" : "";
      out.push({ key: `node:${n.node}`, port: n.port, text: `${n.node} (${n.role}) is unhealthy: ${n.detail}${drained}` });
    }
  }
  if (s.db?.problem) out.push({ key: "db", port: null, text: s.db.problem });
  return out;
}
