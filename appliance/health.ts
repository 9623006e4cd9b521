/**
 * What the subsystems report about themselves between passes (a DHCP interface that does not exist, a switch
 * that does not answer, a config that was rejected), for the dashboard's problems panel. Keyed, so a subsystem
 * that recovers clears its own entry.
 */

/** One standing problem, in words, with the Pi port it concerns when there is one. */
export interface HealthProblem {
  readonly subsystem: string;
  readonly port: number | null;
  readonly text: string;
  readonly since: string;
}

/** The current problems of every subsystem. */
export class Health {
  private readonly problems = new Map<string, HealthProblem>();

  constructor(private readonly clock: { now(): Date }) {}

  /** Sets (or, with null, clears) the problem under `key`; an unchanged text keeps its `since`. */
  set(key: string, problem: Omit<HealthProblem, "since"> | null): void {
    if (!problem) {
      this.problems.delete(key);
      return;
    }
    const before = this.problems.get(key);
    const since = before && before.text === problem.text ? before.since : this.clock.now().toISOString();
    this.problems.set(key, { ...problem, since });
  }

  /** Every standing problem, by subsystem then port. */
  list(): HealthProblem[] {
    return [...this.problems.values()].sort((a, b) => a.subsystem.localeCompare(b.subsystem) || (a.port ?? 0) - (b.port ?? 0));
  }
}
