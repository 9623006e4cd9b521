/**
 * The workloads subsystem as `serve` runs it: the CDN health controller (drains and returns web Pis by rewriting
 * the upstream file in every CDN Pi's root), the db failover controller (fencing by PoE through the injected
 * switch actions, promotion, the state file) and rejoin, built from one spec and replaced whole when the spec
 * changes (a config reload). Every loop catches and counts its failures: nothing here ends the daemon.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { OperationError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs-atomic.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { CdnController, configuredMembers, probeCdn, UPSTREAM_FILE } from "./cdn/index.ts";
import type { WorkloadsConfig } from "./config.ts";
import { DbSecret } from "./db/values.ts";
import { httpProbe, mariadbClient, type DbTarget } from "./failover/adapters.ts";
import { DbFailoverController, type DbEvent, type DbFailoverDeps, type PortPower } from "./failover/controller.ts";
import { rejoinDb, type RejoinResult } from "./failover/rejoin.ts";
import { renderReplicaInto, setAsideDatadir } from "./failover/root-adapters.ts";
import { failoverStore } from "./failover/store.ts";
import { ROLES } from "./registry.ts";
import { requiredSecrets } from "./render.ts";
import { nodesOf, type Cluster, type Health, type RoleNode } from "./role.ts";
import { loadOrCreateSecrets } from "./secrets.ts";
import { writeRootFile } from "../rootfs/customise.ts";
import { statusOf, type NodeCheck, type WorkloadsEvent, type WorkloadsStatus } from "./controllers-status.ts";
import { probeWeb } from "./web/index.ts";

/** What the subsystem runs from (the composition root derives it from the config and plan in force). */
export interface WorkloadsSpec {
  readonly cluster: Cluster;
  readonly workloads: WorkloadsConfig;
  readonly stateDir: string;
  /** The Pi root of a switch port on the fileserver. */
  readonly roots: Readonly<Record<number, string>>;
}

/** The outside world, injected: switch actions (through the switch owner's queue), HTTP, SQL, the clock. */
export interface WorkloadsDeps {
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  /** PoE off, the port held off for every later pass; resolves once the switch reports it off. */
  readonly fence: (port: number) => Promise<void>;
  /** PoE on, the operator hold released (rejoin). */
  readonly powerOn: (port: number) => Promise<void>;
  readonly powerState: (port: number) => Promise<PortPower>;
  readonly fetch?: typeof fetch;
  /** SQL on a db Pi as pirack's admin account (default: the mariadb client). */
  readonly sql?: (opts: { adminOptionFile: string; dbPort: number; timeoutMs: number }) => DbFailoverDeps["sql"];
  readonly now?: () => number;
  /** How long a rejoining Pi may take to boot, clone and replicate (default 15 min). */
  readonly rejoinTimeoutMs?: number;
}

interface Running {
  readonly key: string;
  readonly spec: WorkloadsSpec;
  readonly cdn: CdnController | null;
  readonly db: DbFailoverController | null;
  readonly dbNodes: readonly DbTarget[];
  dbProblem: string | null;
  timer: NodeJS.Timeout | undefined;
  round: Promise<void> | undefined;
  stopped: boolean;
}

const keepEvents = 50;

/** The running workload controllers; `configure` is the only way they change. */
export class WorkloadControllers {
  private run: Running | null = null;
  private readonly checks = new Map<string, NodeCheck>();
  private readonly events: WorkloadsEvent[] = [];
  private rejoining: { port: number; node: string; startedAt: string; promise: Promise<RejoinResult> } | null = null;
  private configuring: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly deps: WorkloadsDeps) {
    this.now = deps.now ?? Date.now;
    this.log = deps.log.child({ component: "workloads" });
  }

  /** Makes the controllers match `spec`: kept when unchanged, else stopped and rebuilt (the db state is on disk). */
  configure(spec: WorkloadsSpec): Promise<void> {
    this.configuring = this.configuring.then(() => this.configureNow(spec)).catch((err: unknown) => this.fail("configure", err));
    return this.configuring;
  }

  /** Stops every loop and waits for a round in progress (a rejoin in progress carries on to its end). */
  async stop(): Promise<void> {
    await this.configuring;
    await this.stopRunning();
  }

  /** Whether `port` is a fenced old db primary (kept off: only rejoin powers it on). */
  isFenced(port: number): boolean {
    const run = this.run;
    const name = run?.dbNodes.find((n) => n.port === port)?.name;
    return name !== undefined && (run?.db?.current().fenced.includes(name) ?? false);
  }

  /**
   * Ports of fenced db Pis that must be held off: not the one rejoining, whose power rejoin owns (it is powered on
   * while still fenced, and unfenced only once it replicates).
   */
  fencedPorts(): number[] {
    return [...(this.run?.dbNodes ?? [])].filter((n) => this.isFenced(n.port) && n.port !== this.rejoining?.port).map((n) => n.port);
  }

  /** Everything `GET /api/v1/workloads` shows. */
  status(): WorkloadsStatus {
    const run = this.run;
    return statusOf({
      cluster: run?.spec.cluster ?? { nodes: [], exportsDir: "" },
      workloads: run?.spec.workloads ?? null,
      checks: this.checks,
      cdn: run?.cdn?.status() ?? null,
      db: run?.db?.status() ?? null,
      dbProblem: run?.dbProblem ?? null,
      rejoining: this.rejoining ? { port: this.rejoining.port, node: this.rejoining.node, startedAt: this.rejoining.startedAt } : null,
      events: this.events,
    });
  }

  /** Brings the fenced db Pi on `port` back as a fresh replica of the current primary; one rejoin at a time. */
  async rejoin(port: number): Promise<RejoinResult> {
    const run = this.run;
    if (!run?.db) throw new OperationError("DB_REJOIN_NOT_DB", run?.dbProblem ?? "this rack runs no db pair (no Pi has role db)");
    if (this.rejoining) throw new OperationError("DB_REJOIN_BUSY", `db Pi ${this.rejoining.node} (port ${this.rejoining.port}) is rejoining since ${this.rejoining.startedAt}`);
    const node = run.dbNodes.find((n) => n.port === port);
    if (!node) throw new OperationError("DB_REJOIN_NOT_DB", `port ${port} is not a db Pi (db ports: ${run.dbNodes.map((n) => n.port).join(", ")})`);
    if (!run.db.current().fenced.includes(node.name)) throw new OperationError("DB_REJOIN_NOT_FENCED", `db Pi ${node.name} (port ${port}) is not fenced; only a fenced old primary rejoins`);
    const spec = run.spec;
    const db = spec.workloads.db;
    const probe = httpProbe({ healthPort: db.healthPort, timeoutMs: db.failover.timeoutMs, ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}) });
    // Routed to whichever controller is in force when rejoin reads or unfences (a reload may replace it meanwhile).
    const controller = { current: () => (this.run?.db ?? run.db!).current(), unfence: (name: string) => (this.run?.db ?? run.db!).unfence(name) };
    const rootOf = (n: DbTarget) => {
      const root = spec.roots[n.port];
      if (!root) throw new OperationError("DB_REJOIN_NO_ROOT", `port ${n.port} has no Pi root in the plan`);
      return root;
    };
    const promise = rejoinDb(port, {
      controller,
      nodes: run.dbNodes,
      setAsideDatadir: async (n) => (await setAsideDatadir(rootOf(n), new Date(this.now()))) ?? "(no datadir)",
      renderAsReplica: async (n, primary) => {
        const { secrets } = await loadOrCreateSecrets(spec.stateDir, requiredSecrets(spec.cluster, ROLES));
        await renderReplicaInto({ root: rootOf(n), name: n.name, primary, cluster: spec.cluster, workloads: spec.workloads, secrets, roles: ROLES });
      },
      powerOn: this.deps.powerOn,
      probe,
      now: this.now,
      timeoutMs: this.deps.rejoinTimeoutMs ?? 15 * 60_000,
    });
    this.rejoining = { port, node: node.name, startedAt: new Date(this.now()).toISOString(), promise };
    this.event("rejoin started", { node: node.name, port });
    const rejoins = this.deps.metrics.counter("pirack_db_rejoins_total", "fenced old primaries brought back as replicas, by result");
    promise.then(
      (r) => {
        rejoins.inc({ result: "done" });
        this.event("rejoin done", { ...r });
      },
      (err: Error) => {
        rejoins.inc({ result: "failed" });
        this.event("rejoin failed", { node: node.name, port, err: err.message }, "error");
      },
    );
    const clear = () => void (this.rejoining = null);
    promise.then(clear, clear);
    return promise;
  }

  private async configureNow(spec: WorkloadsSpec): Promise<void> {
    const key = JSON.stringify(spec);
    if (this.run?.key === key) return;
    await this.stopRunning();
    this.checks.clear();
    if (spec.cluster.nodes.length === 0) return;
    const run: Running = { key, spec, cdn: this.buildCdn(spec), db: null, dbNodes: [], dbProblem: null, timer: undefined, round: undefined, stopped: false };
    this.run = run;
    const dbs = nodesOf(spec.cluster, "db");
    if (dbs.length === 2) await this.startDb(run, dbs);
    else if (dbs.length === 1) run.dbProblem = `only one db Pi (${dbs[0]!.name}): failover needs a primary and a replica`;
    if (run.cdn || nodesOf(spec.cluster, "cdn").length > 0) this.loop(run, 0);
    this.log.info({ nodes: spec.cluster.nodes.map((n) => `${n.name}:${n.role}`), db: run.db !== null, cdn: run.cdn !== null }, "workload controllers started");
  }

  private buildCdn(spec: WorkloadsSpec): CdnController | null {
    const webs = nodesOf(spec.cluster, "web");
    if (webs.length === 0 || nodesOf(spec.cluster, "cdn").length === 0) return null;
    const members = configuredMembers({ workloads: spec.workloads, cluster: spec.cluster }).map(({ name, address, weight }) => ({ name, address, weight }));
    const roots = nodesOf(spec.cluster, "cdn").map((n) => spec.roots[n.port]).filter((r): r is string => r !== undefined);
    return new CdnController({
      webs: members,
      thresholds: spec.workloads.cdn.health,
      probe: async (name) => this.check(webs.find((w) => w.name === name)!, spec, probeWeb),
      writeUpstream: (content) => writeUpstreamWhereRootsExist(roots, content),
      log: this.log,
    });
  }

  private async startDb(run: Running, dbs: readonly RoleNode[]): Promise<void> {
    const { spec } = run;
    const db = spec.workloads.db;
    const nodes: DbTarget[] = dbs.map((n) => ({ name: n.name, port: n.port, address: n.storageAddress }));
    const httpPoll = httpProbe({ healthPort: db.healthPort, timeoutMs: db.failover.timeoutMs, ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}) });
    try {
      const { secrets } = await loadOrCreateSecrets(spec.stateDir, requiredSecrets(spec.cluster, ROLES));
      const adminOptionFile = join(spec.stateDir, "workloads", "db-admin.cnf");
      await writeFileAtomic(adminOptionFile, `# generated by pirack: the failover controller's account on the db Pis\n[client]\nuser = pirack_admin\npassword = ${secrets[DbSecret.admin]}\n`, 0o600);
      const sqlOpts = { adminOptionFile, dbPort: db.port, timeoutMs: db.failover.catchUpMs + 5000 };
      const controller = new DbFailoverController({
        log: this.log,
        metrics: this.deps.metrics,
        nodes,
        probe: async (n) => {
          const h = await httpPoll(n);
          this.deps.metrics.counter("pirack_db_polls_total", "health polls of the db Pis, by result").inc({ node: n.name, result: h === null ? "no answer" : h.up ? "up" : "down" });
          return h;
        },
        sql: this.deps.sql ? this.deps.sql(sqlOpts) : mariadbClient(sqlOpts),
        fence: this.deps.fence,
        powerState: this.deps.powerState,
        store: failoverStore({ stateDir: spec.stateDir, nodes, onFallback: (err) => this.log.error({ err }, "failover state damaged; using its previous generation") }),
        initialPrimary: db.primary ?? nodes[0]!.name,
        policy: { enabled: db.failover.enabled, fails: db.failover.fails, replicaFails: db.failover.replicaFails },
        intervalMs: db.failover.intervalMs,
        catchUpMs: db.failover.catchUpMs,
        ...(this.deps.now ? { now: this.deps.now } : {}),
        onEvent: (e) => this.dbEvent(run, e),
      });
      await controller.start();
      (run as { db: DbFailoverController | null }).db = controller;
      (run as { dbNodes: readonly DbTarget[] }).dbNodes = nodes;
      // A restart after a failover whose old primary was never brought back: auto-rejoin picks it up now.
      if (db.failover.autoRejoin) for (const name of controller.current().fenced) this.autoRejoin(run, name);
    } catch (err) {
      run.dbProblem = `db failover is not running: ${(err as Error).message}`;
      this.fail("db start", err);
    }
  }

  private dbEvent(run: Running, e: DbEvent): void {
    if (e.event === "promoted" && run.spec.workloads.db.failover.autoRejoin && typeof e.from === "string") this.autoRejoin(run, e.from);
  }

  private autoRejoin(run: Running, name: string): void {
    const node = run.dbNodes.find((n) => n.name === name) ?? nodesOf(run.spec.cluster, "db").find((n) => n.name === name);
    if (!node || run.stopped) return;
    this.event("auto-rejoin", { node: name, port: node.port });
    // After the current step: the controller records the promotion before rejoin reads who is primary.
    setTimeout(() => {
      if (this.run !== run || run.stopped) return;
      this.rejoin(node.port).catch((err: unknown) => this.fail("auto-rejoin", err));
    }, 0).unref();
  }

  private loop(run: Running, delayMs: number): void {
    run.timer = setTimeout(() => {
      run.round = this.round(run).finally(() => {
        if (!run.stopped) this.loop(run, run.spec.workloads.cdn.health.intervalMs);
      });
    }, delayMs);
  }

  /** One round of the CDN side: the web Pis (through the controller) and the CDN Pis themselves. */
  private async round(run: Running): Promise<void> {
    const { spec } = run;
    const cdnProbe = Promise.all(nodesOf(spec.cluster, "cdn").map((n) => this.check(n, spec, probeCdn)));
    try {
      const events = (await run.cdn?.tick()) ?? [];
      for (const e of events) {
        this.event(e.event === "drained" ? "web pi drained" : "web pi returned", { node: e.node, detail: e.detail }, e.event === "drained" ? "warn" : "info");
        this.deps.metrics.counter("pirack_cdn_changes_total", "web Pis drained from or returned to the CDN upstreams").inc({ node: e.node, change: e.event });
      }
      for (const s of run.cdn?.status() ?? []) this.deps.metrics.gauge("pirack_cdn_upstream_drained", "1 while a web Pi is drained from the CDN upstreams").set(s.drained ? 1 : 0, { node: s.name });
    } catch (err) {
      this.fail("cdn round", err);
    }
    await cdnProbe;
  }

  /** Probes one node with its role's probe (never throws) and records the result. */
  private async check(node: RoleNode, spec: WorkloadsSpec, probe: typeof probeWeb): Promise<Health> {
    const h = await probe(node, { fetch: this.deps.fetch ?? fetch, timeoutMs: spec.workloads.cdn.health.timeoutMs, workloads: spec.workloads, cluster: spec.cluster }).catch(
      (err: Error): Health => ({ node: node.name, role: node.role, healthy: false, detail: `probe failed: ${err.message}` }),
    );
    const prev = this.checks.get(node.name);
    this.checks.set(node.name, { health: h, at: new Date(this.now()).toISOString(), failures: h.healthy ? 0 : (prev?.failures ?? 0) + 1 });
    this.deps.metrics.gauge("pirack_workloads_node_healthy", "1 when a role node's last health probe passed").set(h.healthy ? 1 : 0, { node: node.name, role: node.role });
    return h;
  }

  private async stopRunning(): Promise<void> {
    const run = this.run;
    this.run = null;
    if (!run) return;
    run.stopped = true;
    clearTimeout(run.timer);
    await run.round;
    await run.db?.stop();
    // The old controller's events stay in the history the API shows (a reload must not hide a failover).
    for (const e of run.db?.status().events ?? []) this.events.push({ ...e });
    this.events.sort((a, b) => a.at.localeCompare(b.at)).splice(0, Math.max(0, this.events.length - keepEvents));
    this.log.info("workload controllers stopped");
  }

  private event(event: string, fields: Record<string, unknown>, level: "info" | "warn" | "error" = "info"): void {
    this.events.push({ at: new Date(this.now()).toISOString(), event, ...fields });
    if (this.events.length > keepEvents) this.events.shift();
    this.log[level](fields, event);
  }

  private fail(what: string, err: unknown): void {
    this.deps.metrics.counter("pirack_workloads_errors_total", "failures inside the workload controllers (logged, retried)").inc({ what });
    this.log.error({ err, what }, "workload controller failed");
  }
}

/** Writes the upstream file into every CDN root that exists; false when one does not exist yet (retried). */
async function writeUpstreamWhereRootsExist(roots: readonly string[], content: string): Promise<boolean> {
  let everywhere = true;
  for (const root of roots) {
    // A root not cloned yet gets the file with its workload files; writing here would make an empty "root".
    const exists = await stat(join(root, "etc/hostname")).then(
      () => true,
      () => false,
    );
    if (!exists) {
      everywhere = false;
      continue;
    }
    const before = await readFile(join(root, UPSTREAM_FILE.slice(1)), "utf8").catch(() => undefined);
    if (before !== content) await writeRootFile(root, { path: UPSTREAM_FILE.slice(1), text: content, mode: 0o644 });
  }
  return everywhere;
}
