/**
 * API access control: bearer tokens from a token file (lines `read <token>` / `write <token>`, DESIGN.md §5),
 * compared in constant time on their SHA-256 hashes, and the scope a request needs (GET read, POST write).
 * Loopback listeners and the unix socket are open to local tools; every other listener needs a token file.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

/** What a token may do: `write` includes `read`. */
export type Scope = "read" | "write";

/** A parsed token file: hashes only, so no token sits in memory longer than needed for parsing. */
export interface TokenTable {
  readonly entries: readonly { readonly scope: Scope; readonly hash: Buffer }[];
}

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** Parses a token file; returns every problem (by line) instead of a table when any line is bad. */
export function parseTokenFile(text: string, file: string): { ok: true; table: TokenTable } | { ok: false; problems: string[] } {
  const entries: { scope: Scope; hash: Buffer }[] = [];
  const problems: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(read|write)\s+(\S+)$/.exec(line);
    // The token itself is never echoed: the line number and the first word are enough to find it.
    if (!m) problems.push(`${file}:${i + 1}: expected "read <token>" or "write <token>", got a line starting "${line.split(/\s+/)[0]!.slice(0, 12)}"`);
    else if (m[2]!.length < 16) problems.push(`${file}:${i + 1}: token is ${m[2]!.length} characters; use at least 16 (e.g. openssl rand -hex 32)`);
    else entries.push({ scope: m[1] as Scope, hash: sha256(m[2]!) });
  });
  if (problems.length === 0 && entries.length === 0) problems.push(`${file}: holds no token lines ("read <token>" / "write <token>")`);
  return problems.length ? { ok: false, problems } : { ok: true, table: { entries } };
}

/** The outcome of checking a request. */
export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; reason: "missing" | "malformed" | "unknown" | "scope" };

/** The scope a request method needs: reads for GET/HEAD, writes for everything else. */
export const scopeFor = (method: string): Scope => (method === "GET" || method === "HEAD" ? "read" : "write");

/**
 * Checks an `Authorization` header against the table. Every entry is compared (no early exit), each with
 * timingSafeEqual over equal-length hashes, so the time taken tells nothing about which token came close.
 */
export function authorize(table: TokenTable, header: string | undefined, needed: Scope): AuthResult {
  if (header === undefined || header === "") return { ok: false, status: 401, reason: "missing" };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return { ok: false, status: 401, reason: "malformed" };
  const offered = sha256(m[1]!);
  let best: Scope | undefined;
  for (const e of table.entries) {
    if (timingSafeEqual(e.hash, offered) && best !== "write") best = e.scope;
  }
  if (!best) return { ok: false, status: 401, reason: "unknown" };
  if (needed === "write" && best !== "write") return { ok: false, status: 403, reason: "scope" };
  return { ok: true };
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || /^::ffff:127\./i.test(host);
  return false;
}

/** Words for a refusal, for the JSON body (never naming the token). */
export function refusalText(r: Exclude<AuthResult, { ok: true }>): string {
  switch (r.reason) {
    case "missing":
      return "this API needs Authorization: Bearer <token> (a token from the appliance's token file)";
    case "malformed":
      return "expected Authorization: Bearer <token>";
    case "unknown":
      return "token not accepted";
    case "scope":
      return "this token has read scope; this request needs a write token";
  }
}
