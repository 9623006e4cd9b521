/**
 * The reconciler: observe each subsystem, plan ordered actions (pure), apply them, record what was reached.
 * Passes are level-based (they re-observe every time) and serialised; callers only *request* a pass.
 */
import type { Logger } from "pino";
import type { Clock } from "../../lib/clock.ts";

/** A planned change, printable as data: `kind` names the operation, `subject` what it acts on. */
export interface Action {
  readonly kind: string;
  readonly subject: string;
  /** Words for logs and `--dry-run`, e.g. "write /etc/network/interfaces.d/eth0.10". */
  readonly description: string;
}

/** One part of the world pirack keeps in its desired state (files, interfaces, exports, switch, roots). */
export interface Subsystem<Desired, Observed, A extends Action = Action> {
  readonly name: string;
  /** Reads the world. Never changes it. */
  observe(): Promise<Observed>;
  /** Pure and ordered: create before delete, add before remove. An empty list means "in its desired state". */
  plan(desired: Desired, observed: Observed): A[];
  /** Carries out one action; throws a typed error when it cannot. */
  apply(action: A): Promise<void>;
  /** All of a pass's actions at once (see `BoundSubsystem.applyAll`); when absent, `apply` one by one. */
  applyAll?(actions: readonly A[]): Promise<readonly ActionOutcome[]>;
}

/** The outcome of one action carried out as part of a unit: undefined error means it was reached. */
export interface ActionOutcome {
  readonly action: Action;
  readonly error?: unknown;
}

/** A subsystem bound to how it derives its desired state from the current rack state. */
export interface BoundSubsystem<State> {
  readonly name: string;
  planFor(state: State): Promise<Action[]>;
  /** Carries out one planned action as planned (preconditions may be re-checked; nothing is planned again). */
  apply(action: Action): Promise<void>;
  /**
   * For subsystems whose per-Pi actions reach the world as one write (one SNMP PDU for the switch, one
   * exports file): carries out all of a pass's actions at once and says how each one went. When absent,
   * actions are applied one by one.
   */
  applyAll?(actions: readonly Action[]): Promise<readonly ActionOutcome[]>;
}

/**
 * Binds a subsystem to a function that picks its desired state out of the rack state; `undefined` means the
 * subsystem is not managed under the current config, so it is neither observed nor changed.
 */
export function bind<State, D, O, A extends Action>(
  subsystem: Subsystem<D, O, A>,
  desired: (state: State) => D | undefined,
): BoundSubsystem<State> {
  return {
    name: subsystem.name,
    planFor: async (state) => {
      const want = desired(state);
      return want === undefined ? [] : subsystem.plan(want, await subsystem.observe());
    },
    apply: (action) => subsystem.apply(action as A),
    ...(subsystem.applyAll ? { applyAll: (actions: readonly Action[]) => subsystem.applyAll!(actions as readonly A[]) } : {}),
  };
}

/** A bound subsystem whose desired state is picked out of the rack state; `undefined`: not managed now. */
export function narrow<State, D>(subsystem: BoundSubsystem<D>, desired: (state: State) => D | undefined): BoundSubsystem<State> {
  return {
    name: subsystem.name,
    planFor: async (state) => {
      const want = desired(state);
      return want === undefined ? [] : subsystem.planFor(want);
    },
    apply: (action) => subsystem.apply(action),
    ...(subsystem.applyAll ? { applyAll: subsystem.applyAll.bind(subsystem) } : {}),
  };
}

/** What one pass reached: every action tried, the ones that failed with why. */
export interface PassReport {
  readonly reason: string;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly applied: readonly (Action & { subsystem: string })[];
  readonly failed: readonly (Action & { subsystem: string; error: string; code?: string })[];
}

/** Dependencies of a reconciler. */
export interface ReconcilerDeps<State> {
  readonly log: Logger;
  readonly clock: Pick<Clock, "now">;
  readonly subsystems: readonly BoundSubsystem<State>[];
  /** The current desired rack state, read at the start of each pass. */
  readonly state: () => State;
  /**
   * Held around every pass and every `exclusive` run: the rack's cross-process pass lock
   * (`lib/pass-lock.ts`), so one-shot commands and the daemon never interleave. None in unit tests.
   */
  readonly lock?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** Runs passes one at a time; concurrent requests fold into one follow-up pass. */
export class Reconciler<State> {
  private running: Promise<PassReport> | undefined;
  private queued: { reason: string; promise: Promise<PassReport> } | undefined;
  private last: PassReport | undefined;

  constructor(private readonly deps: ReconcilerDeps<State>) {}

  /** The report of the most recent finished pass. */
  get lastReport(): PassReport | undefined {
    return this.last;
  }

  /** Requests a pass; resolves with the report of a pass that started after this call. */
  request(reason: string): Promise<PassReport> {
    if (!this.running) {
      this.running = this.runPass(reason).finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    if (!this.queued) {
      const after = this.running.catch(() => undefined);
      const promise = after.then(() => {
        const { reason: queuedReason } = this.queued!;
        this.queued = undefined;
        return this.request(queuedReason);
      });
      this.queued = { reason, promise };
    }
    return this.queued.promise;
  }

  /**
   * Runs `fn` (an explicit rebuild, say) with no pass in flight and none starting until it is done; passes
   * requested meanwhile run right after it.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const busy = this.running ?? this.queued?.promise;
      if (!busy) break;
      await busy.catch(() => undefined);
    }
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    this.running = held.then(() => this.last ?? emptyReport("exclusive", new Date(this.deps.clock.now())));
    try {
      return await this.locked(fn);
    } finally {
      this.running = undefined;
      release();
    }
  }

  /** Plans every subsystem against the world without applying anything (`--dry-run`). */
  async dryRun(): Promise<(Action & { subsystem: string })[]> {
    const state = this.deps.state();
    const out: (Action & { subsystem: string })[] = [];
    for (const s of this.deps.subsystems) {
      for (const a of await s.planFor(state)) out.push({ kind: a.kind, subject: a.subject, description: a.description, subsystem: s.name });
    }
    return out;
  }

  /**
   * What a pass would do now, answered within `timeoutMs`: subsystems that are skipped (a switch known to be
   * unreachable) or do not answer in time are listed under `unknown` with the reason, instead of stalling the
   * caller (the API answers from what is known).
   */
  async pending(opts: { skip?: (subsystem: string) => boolean; timeoutMs?: number } = {}): Promise<{
    actions: (Action & { subsystem: string })[];
    unknown: { subsystem: string; reason: string }[];
  }> {
    const state = this.deps.state();
    const actions: (Action & { subsystem: string })[] = [];
    const unknown: { subsystem: string; reason: string }[] = [];
    const timeoutMs = opts.timeoutMs ?? 2_000;
    for (const s of this.deps.subsystems) {
      if (opts.skip?.(s.name)) {
        unknown.push({ subsystem: s.name, reason: "unreachable" });
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
      try {
        const planned = await Promise.race([s.planFor(state), late]);
        if (planned === "late") unknown.push({ subsystem: s.name, reason: `no answer within ${timeoutMs} ms` });
        else for (const a of planned) actions.push({ kind: a.kind, subject: a.subject, description: a.description, subsystem: s.name });
      } catch (err) {
        unknown.push({ subsystem: s.name, reason: errorFields(err).error });
      } finally {
        clearTimeout(timer);
      }
    }
    return { actions, unknown };
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.deps.lock ? this.deps.lock(fn) : fn();
  }

  private runPass(reason: string): Promise<PassReport> {
    return this.locked(() => this.runPassLocked(reason));
  }

  private async runPassLocked(reason: string): Promise<PassReport> {
    const startedAt = new Date(this.deps.clock.now());
    const state = this.deps.state();
    const applied: PassReport["applied"][number][] = [];
    const failed: PassReport["failed"][number][] = [];
    for (const s of this.deps.subsystems) {
      let actions: Action[];
      try {
        actions = await s.planFor(state);
      } catch (err) {
        failed.push({ kind: "observe", subject: s.name, description: `observe ${s.name}`, subsystem: s.name, ...errorFields(err) });
        this.deps.log.warn({ subsystem: s.name, err }, "observe failed");
        continue;
      }
      for (const { action, error } of await carryOut(s, actions)) {
        const fields = { kind: action.kind, subject: action.subject, description: action.description };
        if (error === undefined) {
          applied.push({ ...fields, subsystem: s.name });
          this.deps.log.info({ subsystem: s.name, ...fields }, "action applied");
        } else {
          failed.push({ ...fields, subsystem: s.name, ...errorFields(error) });
          this.deps.log.warn({ subsystem: s.name, ...fields, err: error }, "action failed");
        }
      }
    }
    const report: PassReport = {
      reason,
      startedAt,
      durationMs: this.deps.clock.now() - startedAt.getTime(),
      applied,
      failed,
    };
    this.last = report;
    this.deps.log.info({ reason, applied: applied.length, failed: failed.length, durationMs: report.durationMs }, "reconcile pass finished");
    return report;
  }
}

/** Runs a subsystem's planned actions: as one unit where it has `applyAll`, else one by one, past failures. */
async function carryOut<State>(s: BoundSubsystem<State>, actions: readonly Action[]): Promise<readonly ActionOutcome[]> {
  if (actions.length === 0) return [];
  if (s.applyAll) {
    try {
      return await s.applyAll(actions);
    } catch (error) {
      return actions.map((action) => ({ action, error }));
    }
  }
  const out: ActionOutcome[] = [];
  for (const action of actions) {
    try {
      await s.apply(action);
      out.push({ action });
    } catch (error) {
      out.push({ action, error });
    }
  }
  return out;
}

const emptyReport = (reason: string, at: Date): PassReport => ({ reason, startedAt: at, durationMs: 0, applied: [], failed: [] });

function errorFields(err: unknown): { error: string; code?: string } {
  const e = err as { message?: string; code?: unknown };
  return { error: e?.message ?? String(err), ...(typeof e?.code === "string" ? { code: e.code } : {}) };
}
