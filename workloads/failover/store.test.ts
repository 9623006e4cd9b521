import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeFailoverFile, failoverFile, failoverStore, fencedPortsOnDisk, readFailoverFile } from "./store.ts";

const nodes = [
  { name: "db1", port: 4, address: "10.46.189.14" },
  { name: "db2", port: 5, address: "10.46.189.18" },
];
const failedOver = {
  state: { primary: "db2", fenced: ["db1"], unprotected: true },
  lastFailover: { from: "db1", to: "db2", at: "2026-12-02T05:00:00.000Z", detectMs: 800, fenceMs: 200, catchUpMs: 500, promoteMs: 100, totalMs: 1600 },
};

describe("failover state file", () => {
  let dir: string;
  beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), "pirack-failover-"))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("is absent before the first decision", async () => {
    expect(await failoverStore({ stateDir: dir, nodes }).load()).toBeNull();
    expect(await fencedPortsOnDisk(dir)).toEqual([]);
  });

  it("round-trips the state with the fenced node's port, mode 0600, and keeps the previous generation", async () => {
    const store = failoverStore({ stateDir: dir, nodes, now: () => new Date("2026-12-02T05:00:01Z") });
    await store.save({ state: { primary: "db1", fenced: [], unprotected: false }, lastFailover: null });
    await store.save(failedOver);
    const path = failoverFile(dir);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({ version: 1, primary: "db2", fenced: [{ name: "db1", port: 4 }], unprotected: true, lastFailover: { totalMs: 1600 } });
    expect(JSON.parse(await readFile(`${path}.1`, "utf8"))).toMatchObject({ primary: "db1", fenced: [] });
    expect(await failoverStore({ stateDir: dir, nodes }).load()).toEqual(failedOver);
    expect(await fencedPortsOnDisk(dir)).toEqual([{ name: "db1", port: 4 }]);
  });

  it("a Pi renamed in the config stays fenced: the entry is matched by its port", async () => {
    await failoverStore({ stateDir: dir, nodes }).save(failedOver);
    const renamed = [{ ...nodes[0]!, name: "mysql-a" }, nodes[1]!];
    expect((await failoverStore({ stateDir: dir, nodes: renamed }).load())?.state.fenced).toEqual(["mysql-a"]);
  });

  it("a damaged file falls back to the previous generation (and says so); both damaged is an error, never an empty state", async () => {
    const store = failoverStore({ stateDir: dir, nodes });
    await store.save(failedOver);
    await store.save({ ...failedOver, state: { ...failedOver.state, unprotected: false } });
    await writeFile(failoverFile(dir), '{"version":1,"primary":');
    const fallbacks: string[] = [];
    const loaded = await failoverStore({ stateDir: dir, nodes, onFallback: (e) => fallbacks.push(e.message) }).load();
    expect(loaded?.state).toEqual(failedOver.state);
    expect(fallbacks[0]).toContain("is not JSON");
    await writeFile(`${failoverFile(dir)}.1`, "[]");
    await expect(readFailoverFile(dir)).rejects.toMatchObject({ code: "FAILOVER_STATE_DAMAGED" });
  });

  it.each([
    ["not JSON", "{", "is not JSON"],
    ["wrong version", '{"version":2}', "version"],
    ["fenced entry without a port", '{"version":1,"primary":"a","fenced":[{"name":"a"}],"unprotected":true,"lastFailover":null,"savedAt":"x"}', "fenced.0.port"],
  ])("decode refuses %s with the reason", (_name, text, reason) => {
    expect(() => decodeFailoverFile(text, "/s/failover.json")).toThrow(reason);
  });

  it("an unreadable file (a directory in its place) is reported, not taken as no state", async () => {
    await mkdir(failoverFile(dir), { recursive: true });
    await expect(failoverStore({ stateDir: dir, nodes }).load()).rejects.toMatchObject({ code: "FAILOVER_STATE_UNREADABLE" });
  });
});
