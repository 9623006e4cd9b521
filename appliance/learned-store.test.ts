import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { validateConfig, type Config } from "./config.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { learnedFile, LearnedWriter, loadLearned, previousLearnedFile, recoverLearned, saveLearned } from "./learned-store.ts";

const log = pino({ level: "silent" });
const p1 = { port: 1, mac: "b8:27:eb:00:00:01", serial: "0000000a", model: "3B+" };
const p2 = { port: 2, mac: "b8:27:eb:00:00:02" };

describe("learned-pis state", () => {
  let dir: string;
  let config: Config;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-state-"));
    const r = validateConfig({
      storage: { network: "10.46.189.0/24" },
      public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
      ports: "1-4",
      paths: { state: join(dir, "state"), exports: join(dir, "export") },
      pis: [{ port: 4 }],
    });
    if (!r.ok) throw new Error(r.problems.join("\n"));
    config = r.config;
    await mkdir(join(dir, "state"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const state = () => join(dir, "state");
  const root = (address: string) => mkdir(join(dir, "export", address, "etc"), { recursive: true });

  it("keeps the previous generation on every write", async () => {
    await saveLearned(state(), [p1]);
    await expect(readFile(previousLearnedFile(state()))).rejects.toThrow(/ENOENT/);
    await saveLearned(state(), [p1, p2]);
    expect(await loadLearned(state())).toEqual([p1, p2]);
    expect(JSON.parse(await readFile(previousLearnedFile(state()), "utf8"))).toEqual({ pis: [p1] });
  });

  it("never lets a damaged file replace a good previous generation", async () => {
    await saveLearned(state(), [p1]);
    await saveLearned(state(), [p1, p2]);
    await writeFile(learnedFile(state()), '{"pis": [');
    await saveLearned(state(), [p2]);
    expect(JSON.parse(await readFile(previousLearnedFile(state()), "utf8"))).toEqual({ pis: [p1] });
  });

  const damage: Record<string, (path: string) => Promise<void>> = {
    truncated: (path) => truncate(path, 0),
    "cut in the middle": (path) => truncate(path, 20),
    deleted: (path) => unlink(path),
    "not the state shape": (path) => writeFile(path, "[1,2,3]"),
  };
  it.each(Object.entries(damage))("falls back to pis.json.1 when pis.json is %s, and writes it back", async (_, harm) => {
    await saveLearned(state(), [p1]);
    await saveLearned(state(), [p1, p2]);
    await harm(learnedFile(state()));
    const r = await recoverLearned(config, log);
    expect(r).toMatchObject({ from: "pis.json.1", pis: [p1], fromRoots: [] });
    expect(await loadLearned(state())).toEqual([p1]);
  });

  it("brings back every port whose root exists when both files are lost, except listed Pis", async () => {
    await root("10.46.189.2");
    await root("10.46.189.10");
    await root("10.46.189.14"); // port 4: listed under pis:, enrolled by the config anyway
    await saveLearned(state(), [p2]);
    await unlink(learnedFile(state()));
    const r = await recoverLearned(config, log);
    expect(r).toMatchObject({ from: "none", fromRoots: [1, 3] });
    expect(r.pis).toEqual([{ port: 1 }, { port: 3 }]);
    expect(await loadLearned(state())).toEqual([{ port: 1 }, { port: 3 }]);
  });

  it("adds roots not in an intact file and keeps what the file knew", async () => {
    await root("10.46.189.2");
    await root("10.46.189.6");
    await saveLearned(state(), [p2]);
    const r = await recoverLearned(config, log);
    expect(r).toMatchObject({ from: "pis.json", pis: [{ port: 1 }, p2], fromRoots: [1] });
  });

  it("removes temporary files a crash left, and nothing else", async () => {
    await saveLearned(state(), [p1]);
    for (const name of [".pis.json.0a1b2c3d.tmp", ".pis.json.1.deadbeef.tmp", "notes.txt"]) await writeFile(join(state(), name), "x");
    const r = await recoverLearned(config, log);
    expect(r.removedTemps.sort()).toEqual([".pis.json.0a1b2c3d.tmp", ".pis.json.1.deadbeef.tmp"]);
    expect((await readdir(state())).sort()).toEqual(["notes.txt", "pis.json"]);
  });

  it("writes nothing on a dry run", async () => {
    await root("10.46.189.2");
    await writeFile(join(state(), ".pis.json.0a1b2c3d.tmp"), "x");
    expect((await recoverLearned(config, log, { write: false })).pis).toEqual([{ port: 1 }]);
    expect(await readdir(state())).toEqual([".pis.json.0a1b2c3d.tmp"]);
  });

  it("coalesces writes: the first at once, the rest into one at the end of the interval", async () => {
    const metrics = new MetricsRegistry();
    const w = new LearnedWriter({ stateDir: state, log, metrics, minIntervalMs: 300 });
    await w.save([p1]);
    for (let i = 0; i < 50; i++) await w.save([p1, { port: 2, mac: `b8:27:eb:00:01:${i.toString(16).padStart(2, "0")}` }]);
    expect(metrics.render()).toContain("pirack_state_writes_total 1");
    await new Promise((r) => setTimeout(r, 500));
    await w.flush();
    expect(metrics.render()).toContain("pirack_state_writes_total 2");
    expect((await loadLearned(state()))[1]).toEqual({ port: 2, mac: "b8:27:eb:00:01:31" });
  });
});
