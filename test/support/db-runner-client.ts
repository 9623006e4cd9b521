/**
 * The test's side of test/support/workloads-db-runner.ts: starts pirack's db failover (controller, simulated
 * PoE switch) in the fileserver namespace, collects its JSON events and sends it commands.
 */
import { join } from "node:path";
import { createInterface } from "node:readline";
import { waitFor, type TestBed } from "./netns.ts";
import type { RigSpec } from "./workloads-db-rig.ts";

/** One event line of the runner. */
export type DbEvent = { t: number; wall: number; event: string; [k: string]: unknown };

const repoRoot = join(import.meta.dirname, "../..");

/** A running failover runner. */
export class DbRunner {
  readonly events: DbEvent[] = [];
  private readonly stderr: string[] = [];
  private readonly child: ReturnType<TestBed["spawn"]>;

  /** Starts the runner in `spec.fsNs` (it renders and boots both db Pis, then starts the controller). */
  constructor(bed: TestBed, spec: RigSpec) {
    this.child = bed.spawn(spec.fsNs, "node", ["--import", "tsx", join(repoRoot, "test/support/workloads-db-runner.ts"), JSON.stringify(spec)]);
    this.child.stderr!.on("data", (c: Buffer) => this.stderr.push(String(c)));
    createInterface({ input: this.child.stdout! }).on("line", (l) => {
      try {
        this.events.push(JSON.parse(l) as DbEvent);
      } catch {
        this.events.push({ t: -1, wall: 0, event: "garbage", line: l });
      }
    });
  }

  /** The first event from index `since` on that matches; fails at once if the runner died. */
  waitEvent(pred: (e: DbEvent) => boolean, what: string, timeoutMs = 60_000, since = 0): Promise<DbEvent> {
    return waitFor(() => {
      if (this.child.exitCode !== null) throw new Error(`runner exited: ${this.stderr.join("").slice(-3000)}\nlast events: ${JSON.stringify(this.events.slice(-8))}`);
      return this.events.slice(since).find(pred);
    }, what, timeoutMs);
  }

  /** Both db Pis booted, the controller running and semi-sync on (the replica caught up). */
  async ready(): Promise<void> {
    await this.waitEvent((e) => e.event === "ready", "runner ready", 180_000);
    await this.waitEvent((e) => e.event === "log" && e.msg === "semi-sync on", "semi-sync on", 90_000);
  }

  /** Sends a command line (`{"cmd":"rejoin","port":1}`, `{"cmd":"status"}`). */
  send(o: object): void {
    this.child.stdin!.write(`${JSON.stringify(o)}\n`);
  }
}
