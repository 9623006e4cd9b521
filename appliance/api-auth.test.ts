import { describe, expect, it } from "vitest";
import { authorize, isLoopbackHost, parseTokenFile, scopeFor } from "./api-auth.ts";

const READ = "r".repeat(20);
const WRITE = "w0123456789abcdefw";

describe("parseTokenFile", () => {
  it("reads read and write lines, skipping comments and blank lines", () => {
    const r = parseTokenFile(`# tokens\nread ${READ}\n\nwrite ${WRITE}\n`, "/etc/pirack/api-tokens");
    expect(r.ok && r.table.entries.map((e) => e.scope)).toEqual(["read", "write"]);
  });

  it("lists every bad line by number without echoing the token", () => {
    const r = parseTokenFile(`admin sekrit-sekrit-sekrit\nread short\nwrite\n`, "t");
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems).toEqual([
      't:1: expected "read <token>" or "write <token>", got a line starting "admin"',
      "t:2: token is 5 characters; use at least 16 (e.g. openssl rand -hex 32)",
      't:3: expected "read <token>" or "write <token>", got a line starting "write"',
    ]);
    expect(problems.join("\n")).not.toContain("sekrit");
  });

  it("refuses a file with no tokens", () => {
    expect(parseTokenFile("# nothing\n", "t")).toEqual({ ok: false, problems: ['t: holds no token lines ("read <token>" / "write <token>")'] });
  });
});

describe("authorize", () => {
  const parsed = parseTokenFile(`read ${READ}\nwrite ${WRITE}\n`, "t");
  if (!parsed.ok) throw new Error("fixture");
  const table = parsed.table;
  it.each([
    ["no header", undefined, "read", { ok: false, status: 401, reason: "missing" }],
    ["not bearer", `Basic ${READ}`, "read", { ok: false, status: 401, reason: "malformed" }],
    ["unknown token", "Bearer nope-nope-nope-nope", "read", { ok: false, status: 401, reason: "unknown" }],
    ["a token's prefix", `Bearer ${READ.slice(0, 19)}`, "read", { ok: false, status: 401, reason: "unknown" }],
    ["read token reads", `Bearer ${READ}`, "read", { ok: true }],
    ["read token cannot write", `Bearer ${READ}`, "write", { ok: false, status: 403, reason: "scope" }],
    ["write token writes", `Bearer ${WRITE}`, "write", { ok: true }],
    ["write token reads", `bearer ${WRITE}`, "read", { ok: true }],
  ] as const)("%s", (_name, header, scope, want) => {
    expect(authorize(table, header, scope)).toEqual(want);
  });

  it("maps methods to scopes", () => {
    expect([scopeFor("GET"), scopeFor("HEAD"), scopeFor("POST"), scopeFor("DELETE")]).toEqual(["read", "read", "write", "write"]);
  });
});

describe("isLoopbackHost", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.46.189.1", false],
    ["128.0.0.1", false],
  ])("%s", (host, loopback) => expect(isLoopbackHost(host)).toBe(loopback));
});
