/**
 * The db failover controller: polls both db Pis, and when the primary has failed `fails` polls in a row while the
 * replica can take over, fences the primary by PoE (confirmed off by read-back, never a promotion without it),
 * lets the replica apply its relay log, and promotes it. Every step is an event with its time.
 */
import type { Logger } from "pino";
import type { MetricsRegistry } from "../../lib/metrics.ts";
import type { DbHealth } from "../db/health.ts";
import { slaveStatusField, type DbTarget } from "./adapters.ts";
import { decideDb, type DbClusterState, type DbDecision, type FailoverPolicy, type NodePoll } from "./policy.ts";

/** Power of a switch port, as the switch owner reads it back. */
export type PortPower = "on" | "off" | "unknown";

/** Everything the controller touches, injected. */
export interface DbFailoverDeps {
  readonly log: Logger;
  readonly metrics?: MetricsRegistry;
  readonly now?: () => number;
  readonly nodes: readonly DbTarget[];
  readonly probe: (node: DbTarget) => Promise<DbHealth | null>;
  readonly sql: (node: DbTarget, sql: string) => Promise<string>;
  /** PoE off through the switch owner's write queue; resolves once the switch reports it off. */
  readonly fence: (port: number) => Promise<void>;
  readonly powerState: (port: number) => Promise<PortPower>;
  /** Where the state and the last failover's timings are kept across restarts (store.ts: `failover.json`). */
  readonly store: { load(): Promise<DbRecord | null>; save(record: DbRecord): Promise<void> };
  /** Told of every recorded event (the composition root's auto-rejoin and problems panel listen). */
  readonly onEvent?: (e: DbEvent) => void;
  /** The node that starts as primary when nothing is recorded. */
  readonly initialPrimary: string;
  readonly policy: FailoverPolicy;
  readonly intervalMs: number;
  readonly catchUpMs: number;
}

/** One recorded step ("primary failed", "fenced", "promoted"...). */
export interface DbEvent {
  readonly at: string;
  readonly event: string;
  readonly node?: string;
  readonly [field: string]: unknown;
}

/** Timings of the last failover (ms) with who failed and who took over. */
export type LastFailover = Readonly<Record<string, number | string>>;

/** What the store keeps: the cluster state and the last failover. */
export interface DbRecord {
  readonly state: DbClusterState;
  readonly lastFailover: LastFailover | null;
}

/** What `GET /api/v1/workloads` shows of the db pair. */
export interface DbStatus {
  readonly state: DbClusterState;
  readonly nodes: readonly { name: string; port: number; fenced: boolean; failures: number; health: DbHealth | null }[];
  readonly events: readonly DbEvent[];
  readonly lastFailover: LastFailover | null;
}

const keepEvents = 100;
/** Longest pause before a failed step is tried again. */
const maxRetryPauseMs = 30_000;

/** Runs the poll loop; `stop()` ends it after the current step. */
export class DbFailoverController {
  private state: DbClusterState = { primary: null, fenced: [], unprotected: true };
  private readonly polls = new Map<string, NodePoll>();
  private readonly events: DbEvent[] = [];
  private lastFailover: Record<string, number | string> | null = null;
  private firstFailureAt = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  /** The step being carried out (at most one at a time); polls that answer meanwhile wait for the next one. */
  private acting: Promise<void> | null = null;
  /** Per node: the last probe started, and the newest one whose answer was applied. */
  private readonly started = new Map<string, number>();
  private readonly applied = new Map<string, number>();
  /** When the last step ended: answers to probes sent before it describe the world before it, and decide nothing. */
  private lastStepAt = 0;
  /** The step that failed last: retried with a growing pause, its failure logged at attempts 1, 2, 4, 8... */
  private failing: { key: string; attempts: number; retryAt: number } | null = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly deps: DbFailoverDeps) {
    this.now = deps.now ?? Date.now;
    this.log = deps.log.child({ component: "db-failover" });
  }

  /** Loads the recorded state and starts polling; throws when the store cannot be read (nothing is polled then). */
  async start(): Promise<void> {
    const record = await this.deps.store.load();
    const names = new Set(this.deps.nodes.map((n) => n.name));
    // A recorded primary that is no longer a db Pi (roles changed) gives way to the configured one.
    const primary = record?.state.primary && names.has(record.state.primary) ? record.state.primary : this.deps.initialPrimary;
    this.state = record ? { ...record.state, primary, fenced: record.state.fenced.filter((n) => names.has(n)) } : { primary, fenced: [], unprotected: true };
    this.lastFailover = record?.lastFailover ? { ...record.lastFailover } : null;
    this.record("controller started", { primary: this.state.primary, fenced: this.state.fenced, unprotected: this.state.unprotected });
    this.schedule(0);
  }

  /** Stops polling and waits for a step in progress (probes still out are ignored when they answer). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.acting;
  }

  /** Current state, last polls, events. */
  status(): DbStatus {
    return {
      state: this.state,
      nodes: this.deps.nodes.map((n) => {
        const p = this.polls.get(n.name);
        return { name: n.name, port: n.port, fenced: this.state.fenced.includes(n.name), failures: p?.failures ?? 0, health: p?.health ?? null };
      }),
      events: [...this.events],
      lastFailover: this.lastFailover,
    };
  }

  /** Marks a fenced node as a replica again (called by rejoin once it replicates). */
  async unfence(name: string): Promise<void> {
    if (!this.state.fenced.includes(name)) return;
    await this.setState({ ...this.state, fenced: this.state.fenced.filter((n) => n !== name) });
    this.record("node rejoined", { node: name });
  }

  /** The recorded state (rejoin reads the current primary from it). */
  current(): DbClusterState {
    return this.state;
  }

  /**
   * Probes go out every intervalMs whether or not earlier ones have answered: a primary that stops answering
   * (partitioned: its probes hang until timeoutMs) is seen failing `fails` times interval apart, not a timeout
   * apart (detection was 1.0 + 0.5 + 1.0 s at the defaults; now 0.5 + 1.0 s).
   */
  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.round();
      this.schedule(this.deps.intervalMs);
    }, ms);
  }

  /** Probes every node once and applies the answers as they come (each may lead to a step). */
  private round(): Promise<void[]> {
    const t = this.now();
    return Promise.all(
      this.deps.nodes.map(async (n) => {
        const seq = (this.started.get(n.name) ?? 0) + 1;
        this.started.set(n.name, seq);
        const health = await this.deps.probe(n).catch((err: unknown) => {
          this.log.debug({ err, node: n.name }, "db probe failed");
          return null;
        });
        this.applyPoll(n.name, seq, t, health);
      }),
    );
  }

  /** Applies one probe's answer unless a later probe of the node answered first, then decides. */
  private applyPoll(name: string, seq: number, startedAt: number, health: DbHealth | null): void {
    if (this.stopped || seq <= (this.applied.get(name) ?? 0)) return;
    this.applied.set(name, seq);
    const prev = this.polls.get(name);
    const usable = health !== null && health.up;
    const failures = usable ? 0 : (prev?.failures ?? 0) + 1;
    if (failures === 1) this.firstFailureAt.set(name, startedAt);
    this.polls.set(name, { name, health, failures });
    this.gauges();
    if (startedAt >= this.lastStepAt) void this.step();
  }

  /** Decides on the polls so far and carries out at most one step; a no-op while a step is in progress. */
  private step(): Promise<void> {
    if (this.acting) return this.acting;
    const decision = decideDb(this.state, [...this.polls.values()], this.deps.policy);
    if (decision.kind === "none") return Promise.resolve();
    const key = JSON.stringify(decision);
    if (this.failing?.key === key && this.now() < this.failing.retryAt) return Promise.resolve();
    this.acting = this.act(decision)
      .then(() => {
        if (this.failing?.key === key) this.record("step succeeded after failures", { step: decision.kind, attempts: this.failing.attempts + 1 });
        this.failing = null;
      })
      .catch((err: unknown) => {
        // A step that cannot succeed (a db Pi on a port without PoE cannot be fenced) is retried every few
        // seconds at most and logged at attempts 1, 2, 4, 8..., not at every poll.
        const attempts = this.failing?.key === key ? this.failing.attempts + 1 : 1;
        const pauseMs = Math.min(maxRetryPauseMs, this.deps.intervalMs * 2 ** Math.min(attempts - 1, 16));
        this.failing = { key, attempts, retryAt: this.now() + pauseMs };
        if ((attempts & (attempts - 1)) === 0) this.record("step failed", { step: decision.kind, attempts, retryInMs: pauseMs, err: (err as Error).message }, "error");
        this.deps.metrics?.counter("pirack_db_step_failures_total", "db failover steps that failed (retried with a growing pause)").inc({ step: decision.kind });
      })
      .finally(() => {
        this.acting = null;
        this.lastStepAt = this.now();
      });
    return this.acting;
  }

  /** One poll of every node, waited for, then at most one step, waited for (tests and tools drive it by hand). */
  async tick(): Promise<void> {
    await this.round();
    await this.step();
  }

  private async act(d: DbDecision): Promise<void> {
    switch (d.kind) {
      case "none":
        return;
      case "refuse":
        this.once(`refuse:${d.reason}`, () => this.record("failover refused", { node: d.from, reason: d.reason }, "error"));
        return;
      case "activate":
        await this.deps.sql(this.target(d.node), "SET GLOBAL read_only = OFF");
        this.record("primary made writable", { node: d.node });
        return;
      case "protect":
        // The replica registers as semi-synchronous when its IO thread connects: reconnect it after enabling.
        await this.deps.sql(this.target(d.primary), "SET GLOBAL rpl_semi_sync_master_enabled = ON");
        await this.deps.sql(this.target(d.replica), "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD");
        await this.setState({ ...this.state, unprotected: false });
        this.record("semi-sync on", { node: d.primary, replica: d.replica });
        return;
      case "unprotect":
        // Recorded before the primary may acknowledge a write the replica lacks.
        await this.setState({ ...this.state, unprotected: true });
        await this.deps.sql(this.target(d.primary), "SET GLOBAL rpl_semi_sync_master_enabled = OFF");
        this.record("primary running alone", { node: d.primary, replica: d.replica }, "warn");
        return;
      case "failover":
        await this.failover(d.from, d.to);
    }
  }

  private async failover(from: string, to: string): Promise<void> {
    const old = this.target(from);
    const next = this.target(to);
    const failedAt = this.firstFailureAt.get(from) ?? this.now();
    const t0 = this.now();
    this.record("primary failed", { node: from, polls: this.polls.get(from)?.failures, sinceMs: t0 - failedAt }, "warn");
    await this.deps.fence(old.port);
    const power = await this.deps.powerState(old.port);
    if (power !== "off") throw new Error(`fence of ${from} (port ${old.port}) not confirmed: power reads ${power}`);
    const fencedAt = this.now();
    await this.setState({ ...this.state, fenced: [...new Set([...this.state.fenced, from])] });
    this.record("fenced", { node: from, port: old.port, ms: fencedAt - t0 });
    this.deps.metrics?.counter("pirack_db_fences_total", "db primaries powered off by PoE before a promotion").inc({ node: from });

    // Nothing more can arrive from a powered-off primary: apply everything the IO thread received. A semi-sync
    // replica stopping its IO thread first connects to the primary to kill its dump thread (even with semi-sync
    // switched off at run time); against a partitioned primary that waits rpl_semi_sync_slave_kill_conn_timeout,
    // which the db role renders as 1 s (MariaDB's 5 s default made this step 2.2 s of a 5.5 s failover).
    await this.deps.sql(next, "STOP SLAVE IO_THREAD");
    const received = slaveStatusField(await this.deps.sql(next, "SHOW SLAVE STATUS\\G"), "Gtid_IO_Pos") ?? "";
    const waited = await this.deps.sql(next, `SELECT MASTER_GTID_WAIT('${received.replace(/[^0-9,-]/g, "")}', ${this.deps.catchUpMs / 1000})`);
    if (waited.trim() !== "0") throw new Error(`replica ${to} did not apply its relay log up to ${received || "(empty)"} within ${this.deps.catchUpMs} ms`);
    const caughtUpAt = this.now();
    this.record("relay log applied", { node: to, gtid: received, ms: caughtUpAt - fencedAt });

    await this.deps.sql(next, "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL rpl_semi_sync_master_enabled = OFF; SET GLOBAL read_only = OFF");
    const promotedAt = this.now();
    this.lastFailover = {
      from,
      to,
      at: new Date(promotedAt).toISOString(),
      detectMs: t0 - failedAt,
      fenceMs: fencedAt - t0,
      catchUpMs: caughtUpAt - fencedAt,
      promoteMs: promotedAt - caughtUpAt,
      totalMs: promotedAt - failedAt,
    };
    await this.setState({ ...this.state, primary: to, unprotected: true });
    this.record("promoted", { node: to, ...this.lastFailover });
    this.deps.metrics?.counter("pirack_db_failovers_total", "db failovers completed").inc();
    this.deps.metrics?.gauge("pirack_db_last_failover_seconds", "first failed poll to promoted replica, last failover").set((promotedAt - failedAt) / 1000);
    this.polls.delete(from);
  }

  private target(name: string): DbTarget {
    const t = this.deps.nodes.find((n) => n.name === name);
    if (!t) throw new Error(`db node ${name} is not configured`);
    return t;
  }

  private async setState(s: DbClusterState): Promise<void> {
    this.state = s;
    await this.deps.store.save({ state: s, lastFailover: this.lastFailover });
    this.gauges();
  }

  private gauges(): void {
    const m = this.deps.metrics;
    if (!m) return;
    const up = m.gauge("pirack_db_node_up", "1 when the db Pi's health endpoint answered and mariadb is up");
    const primary = m.gauge("pirack_db_node_primary", "1 on the db Pi pirack considers the primary");
    const fenced = m.gauge("pirack_db_node_fenced", "1 while a fenced old primary waits to rejoin");
    for (const n of this.deps.nodes) {
      up.set(this.polls.get(n.name)?.health?.up ? 1 : 0, { node: n.name });
      primary.set(this.state.primary === n.name ? 1 : 0, { node: n.name });
      fenced.set(this.state.fenced.includes(n.name) ? 1 : 0, { node: n.name });
    }
    m.gauge("pirack_db_unprotected", "1 while the primary may acknowledge writes the replica lacks (failover unsafe)").set(this.state.unprotected ? 1 : 0);
  }

  private lastOnce = "";
  /** Runs `fn` when `key` differs from the last one (a refusal is logged once, not every poll). */
  private once(key: string, fn: () => void): void {
    if (key === this.lastOnce) return;
    this.lastOnce = key;
    fn();
  }

  private record(event: string, fields: Record<string, unknown>, level: "info" | "warn" | "error" = "info"): void {
    const e: DbEvent = { at: new Date(this.now()).toISOString(), event, ...fields };
    this.events.push(e);
    if (this.events.length > keepEvents) this.events.shift();
    this.log[level](fields, event);
    try {
      this.deps.onEvent?.(e);
    } catch (err) {
      this.log.error({ err, event }, "event listener failed");
    }
  }
}
