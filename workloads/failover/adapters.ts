/**
 * The controller's I/O: HTTP polls of the health endpoints, SQL through the mariadb client with pirack's admin
 * account (the password sits in a 0600 option file under paths.state, never on a command line or in a log).
 */
import { execa } from "execa";
import { OperationError } from "../../lib/errors.ts";
import { decodeDbHealth, type DbHealth } from "../db/health.ts";

/** A db Pi as the controller reaches it. */
export interface DbTarget {
  readonly name: string;
  readonly port: number;
  /** Where pirack reaches the Pi (its storage /30 address on a rack). */
  readonly address: string;
}

/** Fetches `GET /` of a node's health endpoint; null when it does not answer in time or answers garbage. */
export function httpProbe(opts: { healthPort: number; timeoutMs: number; fetch?: typeof fetch }) {
  const get = opts.fetch ?? fetch;
  return async (node: DbTarget): Promise<DbHealth | null> => {
    try {
      const host = node.address.includes(":") ? `[${node.address}]` : node.address;
      const res = await get(`http://${host}:${opts.healthPort}/`, { signal: AbortSignal.timeout(opts.timeoutMs) });
      return decodeDbHealth(await res.text());
    } catch {
      // Unreachable, timed out or malformed: to failover all of these are "no usable answer".
      return null;
    }
  };
}

/** Runs SQL on a node as pirack's admin account with the `mariadb` client; resolves to its tab-separated output. */
export function mariadbClient(opts: { adminOptionFile: string; dbPort: number; timeoutMs: number; binary?: string }) {
  return async (node: DbTarget, sql: string): Promise<string> => {
    const r = await execa(
      opts.binary ?? "mariadb",
      [`--defaults-file=${opts.adminOptionFile}`, `--host=${node.address}`, `--port=${opts.dbPort}`, "--connect-timeout=2", "-N", "-B", "-e", sql],
      { reject: false, timeout: opts.timeoutMs },
    );
    if (r.exitCode !== 0) throw new OperationError("DB_SQL_FAILED", `sql on ${node.name} failed (exit ${r.exitCode ?? "timeout"}): ${r.stderr.trim().slice(0, 300)}`);
    return r.stdout;
  };
}

/** Reads one field of `SHOW SLAVE STATUS\G` output ("Gtid_IO_Pos"). */
export function slaveStatusField(out: string, field: string): string | undefined {
  for (const line of out.split("\n")) {
    const m = /^\s*([A-Za-z_]+):\s?(.*)$/.exec(line);
    if (m && m[1] === field) return m[2];
  }
  return undefined;
}
