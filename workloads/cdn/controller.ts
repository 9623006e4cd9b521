/**
 * The CDN health controller: probes every web Pi, drains one after `fails` failed probes in a row and returns it
 * after `rises` good ones, and rewrites the upstream file in every CDN Pi's root when the set changes. nginx open
 * source has no active health checks (only passive `max_fails`); this is the active half. The composition root
 * runs it; probing and writing are injected.
 */
import type { Health } from "../role.ts";
import { renderUpstream, type UpstreamMember } from "./render.ts";

/** What the controller tracks per web Pi. */
export interface WebState {
  readonly name: string;
  readonly drained: boolean;
  /** Probes in a row that disagree with the current state (toward a drain or a return). */
  readonly streak: number;
  readonly lastDetail: string;
  /** What the probe said when the Pi was drained (kept while it stays drained, so the file does not churn). */
  readonly reason?: string;
}

/** Thresholds: `workloads.cdn.health`. */
export interface Thresholds {
  readonly fails: number;
  readonly rises: number;
}

/** Next state of one web Pi after a probe (pure). A Pi starts undrained: the first `fails` failures drain it. */
export function nextWebState(prev: WebState, health: Pick<Health, "healthy" | "detail">, t: Thresholds): WebState {
  const agrees = prev.drained ? !health.healthy : health.healthy;
  if (agrees) return { ...prev, streak: 0, lastDetail: health.detail };
  const streak = prev.streak + 1;
  const flip = streak >= (prev.drained ? t.rises : t.fails);
  const drained = flip ? !prev.drained : prev.drained;
  const reason = flip ? (drained ? health.detail : undefined) : prev.reason;
  return { name: prev.name, drained, streak: flip ? 0 : streak, lastDetail: health.detail, ...(reason === undefined ? {} : { reason }) };
}

/** A change the controller made, for the log and the API. */
export interface DrainEvent {
  readonly node: string;
  readonly event: "drained" | "returned";
  readonly detail: string;
}

/** The controller's dependencies. */
export interface CdnControllerDeps {
  /** Web Pis with their configured weight and public address, in port order. */
  readonly webs: readonly Omit<UpstreamMember, "drained" | "reason">[];
  readonly thresholds: Thresholds;
  /** Probes one web Pi (the web role's `health`); must not throw. */
  probe(name: string): Promise<Pick<Health, "healthy" | "detail">>;
  /**
   * Writes the upstream file into every CDN Pi's root (atomically). Resolving to false means some root could not
   * take it yet (not created): the same content is written again next round.
   */
  writeUpstream(content: string): Promise<void | boolean>;
  readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** Drains and returns web Pis in the CDN's upstream from active probes. */
export class CdnController {
  private states: Map<string, WebState>;
  private written: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: CdnControllerDeps) {
    this.states = new Map(deps.webs.map((w) => [w.name, { name: w.name, drained: false, streak: 0, lastDetail: "not probed yet" }]));
  }

  /** Current state of every web Pi. */
  status(): WebState[] {
    return [...this.states.values()];
  }

  /** One round: probe every web Pi at once, update states, rewrite the file when it changed. */
  async tick(): Promise<DrainEvent[]> {
    const results = await Promise.all(this.deps.webs.map(async (w) => [w.name, await this.deps.probe(w.name)] as const));
    const events: DrainEvent[] = [];
    for (const [name, health] of results) {
      const prev = this.states.get(name)!;
      const next = nextWebState(prev, health, this.deps.thresholds);
      if (next.drained !== prev.drained) events.push({ node: name, event: next.drained ? "drained" : "returned", detail: health.detail });
      this.states.set(name, next);
    }
    const content = renderUpstream(
      this.deps.webs.map((w) => {
        const s = this.states.get(w.name)!;
        return { ...w, drained: s.drained, ...(s.drained && s.reason !== undefined ? { reason: s.reason } : {}) };
      }),
    );
    for (const e of events) this.deps.log[e.event === "drained" ? "warn" : "info"]({ node: e.node, detail: e.detail }, e.event === "drained" ? "web pi drained from cdn" : "web pi returned to cdn");
    if (content !== this.written) {
      const everywhere = await this.deps.writeUpstream(content);
      if (everywhere !== false) this.written = content;
    }
    return events;
  }

  /** Runs `tick` every `intervalMs` (one at a time; a slow round delays the next). */
  start(intervalMs: number): void {
    const loop = async () => {
      this.running = this.tick().then(
        () => undefined,
        (err: unknown) => this.deps.log.warn({ err }, "cdn health round failed"),
      );
      await this.running;
      if (this.timer !== undefined) this.timer = setTimeout(() => void loop(), intervalMs);
    };
    this.timer = setTimeout(() => void loop(), 0);
  }

  /** Stops the loop and waits for a round in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
