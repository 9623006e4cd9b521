import snmp from "net-snmp";
import { describe, expect, it } from "vitest";
import { translateSnmpError } from "./snmp-client.ts";

describe("net-snmp errors -> typed SnmpError", () => {
  const cases: Record<string, { err: unknown; code: string; status?: number | null; oid?: string | null }> = {
    timeout: { err: new snmp.RequestTimedOutError("Request timed out"), code: "SNMP_TIMEOUT" },
    "SET refused with inconsistentValue": {
      err: Object.assign(new snmp.RequestFailedError("InconsistentValue: 1.3.6.1.2.1.17.7.1.4.3.1.4.10"), { status: 12 }),
      code: "SNMP_SET_REJECTED",
      status: 12,
      oid: "1.3.6.1.2.1.17.7.1.4.3.1.4.10",
    },
    "wrong SNMPv3 digest (snmpd's usmStatsWrongDigests report)": { err: Object.assign(new snmp.ResponseInvalidError("Wrong Digest"), { code: 5 }), code: "SNMP_AUTH_FAILED" },
    "anything else": { err: new Error("boom"), code: "SNMP_FAILED" },
  };
  it.each(Object.entries(cases))("%s", (_n, c) => {
    const e = translateSnmpError(c.err, ["1.3.6.1.2.1.1.1.0"]);
    expect(e.code).toBe(c.code);
    if (c.status !== undefined) expect(e.status).toBe(c.status);
    if (c.oid !== undefined) expect(e.oid).toBe(c.oid);
    expect(e.cause).toBe(c.err);
  });
});
