import { describe, expect, it } from "vitest";
import type { DbHealth } from "../db/health.ts";
import { decideDb, gtidSequence, type DbClusterState, type NodePoll } from "./policy.ts";

const policy = { enabled: true, fails: 2, replicaFails: 3 };
const base = { up: true as const, readOnly: true, serverId: 1, gtidCurrentPos: "0-1-10", gtidSlavePos: "", gtidBinlogPos: "0-1-10", semiSync: { enabled: true, status: true, clients: 1 } };
const primary: DbHealth = { ...base, role: "primary", readOnly: false, replica: null };
const standby: DbHealth = { ...base, role: "standby", replica: null };
const replica = (sql = "Yes", io = "Yes", lag: number | null = 0, gtid = "0-1-10"): DbHealth => ({
  ...base,
  role: "replica",
  gtidCurrentPos: gtid,
  replica: { io, sql, secondsBehind: lag, gtidIoPos: gtid, masterHost: "fd77::11", lastIoErrno: 0, lastSqlErrno: 0 },
});
const poll = (name: string, health: DbHealth | null, failures = health?.up ? 0 : 1): NodePoll => ({ name, health, failures });
const protectedState: DbClusterState = { primary: "db1", fenced: [], unprotected: false };

describe("decideDb", () => {
  const cases: Record<string, [DbClusterState, NodePoll[], ReturnType<typeof decideDb>["kind"]]> = {
    "healthy pair: nothing": [protectedState, [poll("db1", primary), poll("db2", replica())], "none"],
    "one failed poll is not enough": [protectedState, [poll("db1", null, 1), poll("db2", replica("Yes", "Connecting"))], "none"],
    "two failed polls and a replica whose SQL thread runs: failover": [protectedState, [poll("db1", null, 2), poll("db2", replica("Yes", "Connecting", null))], "failover"],
    "mariadb down (endpoint answers) counts like no answer": [protectedState, [poll("db1", { up: false, role: "down" }, 2), poll("db2", replica())], "failover"],
    "replica unreachable: refuse": [protectedState, [poll("db1", null, 2), poll("db2", null, 2)], "refuse"],
    "replica SQL thread stopped: refuse": [protectedState, [poll("db1", null, 2), poll("db2", replica("No"))], "refuse"],
    "primary ran alone: refuse": [{ ...protectedState, unprotected: true }, [poll("db1", null, 5), poll("db2", replica())], "refuse"],
    "read-only primary after boot: activate": [{ primary: "db1", fenced: [], unprotected: true }, [poll("db1", standby), poll("db2", replica())], "activate"],
    "read-only primary behind the replica: refuse": [protectedState, [poll("db1", standby), poll("db2", replica("Yes", "Yes", 0, "0-1-11"))], "refuse"],
    "unprotected and the replica caught up: protect": [{ ...protectedState, unprotected: true }, [poll("db1", primary), poll("db2", replica())], "protect"],
    "unprotected, replica lagging: wait": [{ ...protectedState, unprotected: true }, [poll("db1", primary), poll("db2", replica("Yes", "Yes", 3))], "none"],
    "replica gone for replicaFails polls: unprotect": [protectedState, [poll("db1", primary), poll("db2", null, 3)], "unprotect"],
    "a fenced old primary is ignored": [{ primary: "db2", fenced: ["db1"], unprotected: true }, [poll("db1", null, 9), poll("db2", primary)], "none"],
    "fenced primary whose promotion failed later: carry on": [{ primary: "db1", fenced: ["db1"], unprotected: false }, [poll("db1", null, 9), poll("db2", replica("Yes", "Connecting"))], "failover"],
  };
  it.each(Object.entries(cases))("%s", (_name, [state, polls, kind]) => {
    expect(decideDb(state, polls, policy).kind).toBe(kind);
  });

  it("failover names both nodes; disabled failover refuses with the reason", () => {
    const polls = [poll("db1", null, 2), poll("db2", replica())];
    expect(decideDb(protectedState, polls, policy)).toEqual({ kind: "failover", from: "db1", to: "db2" });
    expect(decideDb(protectedState, polls, { ...policy, enabled: false })).toMatchObject({ kind: "refuse", reason: expect.stringContaining("disabled") });
  });
});

describe("gtidSequence", () => {
  it.each([
    ["", 0],
    ["0-1-42", 42],
    ["1-3-7,0-2-99", 99],
    ["1-3-7", 0],
  ] as const)("%s -> %d", (pos, seq) => expect(gtidSequence(pos)).toBe(seq));
});
