import { describe, expect, it } from "vitest";
import pino from "pino";
import { validateConfig, type Config } from "../config.ts";
import { planRack, type RackPlan } from "../plan.ts";
import { ManagedFiles, type FileStore } from "./managed-files.ts";
import { bind, Reconciler } from "./reconciler.ts";
import { desiredInterfaceFiles } from "./fileserver-files.ts";

const desiredExportsFile = (plan: RackPlan) => new Map([["pirack.exports", plan.exportsFile]]);

/** An in-memory filesystem that, like a strict real world, rejects a duplicate create or a delete of something missing. */
class StrictFakeStore implements FileStore {
  readonly files = new Map<string, string>();
  writes = 0;
  async list(dir: string) {
    return [...this.files.keys()].filter((p) => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes("/")).map((p) => p.slice(dir.length + 1));
  }
  async read(path: string) {
    const c = this.files.get(path);
    if (c === undefined) throw new Error(`read of missing ${path}`);
    return c;
  }
  async create(path: string, content: string) {
    if (this.files.has(path)) throw new Error(`duplicate create of ${path}`);
    this.files.set(path, content);
    this.writes++;
  }
  async replace(path: string, content: string) {
    if (!this.files.has(path)) throw new Error(`replace of missing ${path}`);
    this.files.set(path, content);
    this.writes++;
  }
  async remove(path: string) {
    if (!this.files.delete(path)) throw new Error(`delete of missing ${path}`);
    this.writes++;
  }
}

const silent = pino({ level: "silent" });
const clock = { now: () => 0 };

const configWith = (ports: string, firstVlan: number, pis: number[]): Config => {
  const r = validateConfig({
    storage: { network: "10.46.189.0/24", firstVlan },
    public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
    ports,
    pis: pis.map((port) => ({ port })),
  });
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.config;
};

function rig(store: FileStore, initial: RackPlan) {
  let plan = initial;
  const interfaces = new ManagedFiles("interfaces", "/etc/network/interfaces.d", store);
  const exportsDir = new ManagedFiles("exports", "/etc/exports.d", store);
  const reconciler = new Reconciler<RackPlan>({
    log: silent,
    clock,
    state: () => plan,
    subsystems: [bind(interfaces, desiredInterfaceFiles), bind(exportsDir, desiredExportsFile)],
  });
  return { reconciler, setPlan: (p: RackPlan) => (plan = p) };
}

/** Deterministic PRNG (mulberry32) so a failing order can be replayed from its seed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("reconciler against a strict fake world", () => {
  it("converges in one pass and plans nothing on the second", async () => {
    const store = new StrictFakeStore();
    const { reconciler } = rig(store, planRack(configWith("1-2", 10, [1, 2])));
    const first = await reconciler.request("test");
    expect(first.failed).toEqual([]);
    expect(first.applied.map((a) => a.description)).toEqual([
      "create /etc/network/interfaces.d/eth0.10",
      "create /etc/network/interfaces.d/eth0.11",
      "create /etc/exports.d/pirack.exports",
    ]);
    expect(await reconciler.dryRun()).toEqual([]);
    const second = await reconciler.request("again");
    expect(second.applied).toEqual([]);
  });

  it("never touches a file it did not write, and reports the conflict by not overwriting it", async () => {
    const store = new StrictFakeStore();
    store.files.set("/etc/network/interfaces.d/eth0.10", "auto eth0.10\n# operator's own\n");
    store.files.set("/etc/network/interfaces.d/lo", "auto lo\n");
    const { reconciler } = rig(store, planRack(configWith("1-2", 10, [])));
    await reconciler.request("test");
    expect(store.files.get("/etc/network/interfaces.d/eth0.10")).toBe("auto eth0.10\n# operator's own\n");
    expect(store.files.get("/etc/network/interfaces.d/lo")).toBe("auto lo\n");
    expect(store.files.has("/etc/network/interfaces.d/eth0.11")).toBe(true);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])("follows config changes in random order (seed %i)", async (seed) => {
    const random = prng(seed);
    const configs = [
      configWith("1-2", 10, [1, 2]),
      configWith("1-8", 10, [1, 3, 5]),
      configWith("3-5", 20, [4]),
      configWith("1", 100, []),
      configWith("2-6,9", 10, [9, 2]),
    ];
    const store = new StrictFakeStore();
    const { reconciler, setPlan } = rig(store, planRack(configs[0]!));
    for (let step = 0; step < 12; step++) {
      const config = configs[Math.floor(random() * configs.length)]!;
      const plan = planRack(config);
      setPlan(plan);
      const report = await reconciler.request(`step ${step}`);
      expect(report.failed).toEqual([]);
      expect(await reconciler.dryRun()).toEqual([]);
      const want = new Map([
        ...[...desiredInterfaceFiles(plan)].map(([n, c]) => [`/etc/network/interfaces.d/${n}`, c] as const),
        ...[...desiredExportsFile(plan)].map(([n, c]) => [`/etc/exports.d/${n}`, c] as const),
      ]);
      expect(new Map(store.files)).toEqual(want);
    }
  });

  it("serialises passes and folds concurrent requests into one follow-up", async () => {
    const store = new StrictFakeStore();
    const { reconciler } = rig(store, planRack(configWith("1-2", 10, [1])));
    const reports = await Promise.all([reconciler.request("a"), reconciler.request("b"), reconciler.request("c")]);
    expect(reports[0]!.applied).toHaveLength(3);
    expect(reports[1]).toBe(reports[2]);
    expect(reports[1]!.applied).toEqual([]);
    expect(store.writes).toBe(3);
  });

  it("keeps going past a failed action and records it", async () => {
    const store = new StrictFakeStore();
    store.create = async (path) => {
      if (path.endsWith("eth0.10")) throw Object.assign(new Error("disk full"), { code: "ENOSPC" });
      await StrictFakeStore.prototype.create.call(store, path, "# generated by pirack\n");
    };
    const { reconciler } = rig(store, planRack(configWith("1-2", 10, [])));
    const report = await reconciler.request("test");
    expect(report.failed).toMatchObject([{ subject: "/etc/network/interfaces.d/eth0.10", error: "disk full", code: "ENOSPC" }]);
    expect(report.applied.map((a) => a.subject)).toContain("/etc/network/interfaces.d/eth0.11");
  });
});

describe("exclusive work", () => {
  it("waits for a running pass and holds later passes back until it is done", async () => {
    const store = new StrictFakeStore();
    const { reconciler } = rig(store, planRack(configWith("1-2", 10, [1])));
    const order: string[] = [];
    const pass = reconciler.request("first").then(() => order.push("pass 1 done"));
    const work = reconciler.exclusive(async () => {
      order.push("exclusive start");
      const later = reconciler.request("during").then(() => order.push("pass 2 done"));
      await new Promise((r) => setImmediate(r));
      order.push("exclusive end");
      return { later }; // wrapped: returning the promise itself would make the work wait for the pass it holds back
    });
    await Promise.all([pass, work.then(({ later }) => later)]);
    expect(order).toEqual(["pass 1 done", "exclusive start", "exclusive end", "pass 2 done"]);
  });
});

describe("actions carried out as one unit, and pending answered from what is known", () => {
  const unit = (calls: string[][], fail?: string) => ({
    name: "unit",
    planFor: async () => ["a", "b"].map((s) => ({ kind: "k", subject: s, description: `do ${s}`, extra: { big: true } })),
    apply: async () => {
      throw new Error("applyAll expected");
    },
    applyAll: async (actions: readonly { subject: string }[]) => {
      calls.push(actions.map((a) => a.subject));
      if (fail) throw new Error(fail);
      return actions.map((action) => ({ action: action as never }));
    },
  });

  it("hands a pass's actions to applyAll once, and lists each in the report without extra fields", async () => {
    const calls: string[][] = [];
    const r = new Reconciler<number>({ log: silent, clock, state: () => 0, subsystems: [unit(calls)] });
    const report = await r.request("t");
    expect(calls).toEqual([["a", "b"]]);
    expect(report.applied).toEqual([
      { kind: "k", subject: "a", description: "do a", subsystem: "unit" },
      { kind: "k", subject: "b", description: "do b", subsystem: "unit" },
    ]);
  });

  it("fails every action of a unit whose write failed", async () => {
    const r = new Reconciler<number>({ log: silent, clock, state: () => 0, subsystems: [unit([], "switch said no")] });
    const report = await r.request("t");
    expect(report.failed.map((f) => [f.subject, f.error])).toEqual([
      ["a", "switch said no"],
      ["b", "switch said no"],
    ]);
  });

  it("answers pending at once for a skipped or slow subsystem", async () => {
    const slow = { name: "switch", planFor: () => new Promise<never>(() => undefined), apply: async () => undefined };
    const r = new Reconciler<number>({ log: silent, clock, state: () => 0, subsystems: [unit([]), slow] });
    const late = await r.pending({ timeoutMs: 50 });
    expect(late.actions.map((a) => a.subject)).toEqual(["a", "b"]);
    expect(late.unknown).toEqual([{ subsystem: "switch", reason: "no answer within 50 ms" }]);
    expect((await r.pending({ skip: (n) => n === "switch" })).unknown).toEqual([{ subsystem: "switch", reason: "unreachable" }]);
  });

  it("holds the lock around every pass", async () => {
    const held: string[] = [];
    const r = new Reconciler<number>({
      log: silent,
      clock,
      state: () => 0,
      subsystems: [unit([])],
      lock: async (fn) => {
        held.push("take");
        try {
          return await fn();
        } finally {
          held.push("give");
        }
      },
    });
    await r.request("one");
    await r.exclusive(async () => held.push("rebuild"));
    expect(held).toEqual(["take", "give", "take", "rebuild", "give"]);
  });
});
