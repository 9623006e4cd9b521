/**
 * SNMP adapter: the only switch code that talks UDP. One request queue per switch (requests never overlap),
 * per-attempt timeouts, retries of timed-out requests with doubling pauses, and typed errors. Credentials are
 * kept out of every log line and error message.
 */
import snmp, { type Session, type Varbind } from "net-snmp";
import type { Logger } from "pino";
import { OperationError } from "../lib/errors.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";

/** An SNMPv3 authPriv user as net-snmp takes it (sessions and the trap receiver alike). */
export function v3User(c: Extract<SnmpCredentials, { version: "3" }>) {
  return {
    name: c.user,
    level: snmp.SecurityLevel.authPriv,
    authProtocol: snmp.AuthProtocols[c.authProtocol ?? "sha"],
    authKey: c.authKey,
    privProtocol: snmp.PrivProtocols[c.privProtocol ?? "aes"],
    privKey: c.privKey,
  };
}
import { compareOid, oidParts } from "./oids.ts";
import { SNMP_PORT, type SnmpCredentials } from "./types.ts";

export { SNMP_PORT };

/** SNMP failure with a stable code: SNMP_TIMEOUT, SNMP_SET_REJECTED, SNMP_AUTH_FAILED, SNMP_FAILED. */
export class SnmpError extends OperationError {
  /** RFC 3416 error-status of a refused SET (e.g. 12 inconsistentValue), else null. */
  readonly status: number | null;
  /** OID named by error-index, when the agent gave one. */
  readonly oid: string | null;

  constructor(code: string, message: string, opts: { status?: number | null; oid?: string | null; cause?: unknown } = {}) {
    super(code, message, { cause: opts.cause });
    this.status = opts.status ?? null;
    this.oid = opts.oid ?? null;
  }
}

/** Reads and writes varbinds; `snmprec.ts` implements the read half from a recorded walk. */
export interface SnmpReader {
  get(oids: readonly string[]): Promise<Varbind[]>;
  /** Every instance below `oid`, in OID order. */
  walk(oid: string): Promise<Varbind[]>;
}

/** A reader that can also SET. */
export interface SnmpClient extends SnmpReader {
  set(varbinds: readonly Varbind[]): Promise<void>;
  close(): void;
}

/** Injected pause (tests and the daemon pass real timers; nothing here reads the clock itself). */
export type Sleep = (ms: number) => Promise<void>;

/** Options of `createSnmpClient`. */
export interface SnmpClientOptions {
  readonly host: string;
  readonly port?: number;
  readonly credentials: SnmpCredentials;
  readonly timeoutMs?: number;
  readonly setTimeoutMs?: number;
  readonly retries?: number;
  readonly backoffMs?: number;
  /** GETBULK max-repetitions; 10-20 is safe (Zyxel broke above 55, reference §3 gotcha 9). */
  readonly maxRepetitions?: number;
  readonly log: Logger;
  readonly metrics?: MetricsRegistry;
  readonly sleep?: Sleep;
}

const EndOfMibView = 130;

/** RFC 3416 error-status names for messages. */
export const errorStatusName = (status: number): string => snmp.ErrorStatus[status] ?? `status${status}`;

/** Builds a client for one switch. */
export function createSnmpClient(opts: SnmpClientOptions): SnmpClient {
  const port = opts.port ?? SNMP_PORT;
  const retries = opts.retries ?? 2;
  const backoffMs = opts.backoffMs ?? 200;
  const maxRepetitions = opts.maxRepetitions ?? 16;
  const sleep: Sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const log = opts.log.child({ component: "snmp", host: opts.host, port });
  const requests = opts.metrics?.counter("pirack_switch_snmp_requests_total", "SNMP requests to the switch by operation and result");
  const open = (timeout: number): Session => {
    const c = opts.credentials;
    const base = { port, timeout, retries: 0, idBitsSize: 32 as const };
    const s =
      c.version === "2c"
        ? snmp.createSession(opts.host, c.community, { ...base, version: snmp.Version2c })
        : snmp.createV3Session(
            opts.host,
            v3User(c),
            base,
          );
    s.on("error", (err) => log.warn({ err: { message: err.message } }, "snmp socket error"));
    return s;
  };
  const reader = open(opts.timeoutMs ?? 2000);
  const writer = open(opts.setTimeoutMs ?? 5000);
  let tail: Promise<unknown> = Promise.resolve();

  /** Runs `op` after every earlier request finished: one queue per switch. */
  const queued = <T>(op: () => Promise<T>): Promise<T> => {
    const run = tail.then(op, op);
    tail = run.catch(() => undefined);
    return run;
  };

  const attempt = async <T>(name: string, oids: readonly string[], call: (cb: (err: Error | null, r: T) => void) => void): Promise<T> => {
    for (let i = 0; ; i++) {
      try {
        const r = await new Promise<T>((resolve, reject) => call((err, res) => (err ? reject(err) : resolve(res))));
        requests?.inc({ op: name, result: "ok" });
        return r;
      } catch (err) {
        const e = translateSnmpError(err, oids);
        requests?.inc({ op: name, result: e.code });
        if (e.code !== "SNMP_TIMEOUT" || i >= retries) throw e;
        const pauseMs = backoffMs * 2 ** i;
        log.warn({ op: name, attempt: i + 1, pauseMs, oid: oids[0] }, "snmp request timed out, retrying");
        await sleep(pauseMs);
      }
    }
  };

  const getBulk = (oid: string): Promise<Varbind[]> =>
    attempt<(Varbind | Varbind[])[]>("getbulk", [oid], (cb) => reader.getBulk([oid], 0, maxRepetitions, cb)).then((rows) =>
      rows.flatMap((r) => (Array.isArray(r) ? r : [r])),
    );

  return {
    get: (oids) => queued(() => attempt<Varbind[]>("get", oids, (cb) => reader.get([...oids], cb))),
    set: (varbinds) =>
      queued(async () => {
        await attempt<Varbind[]>(
          "set",
          varbinds.map((v) => v.oid),
          (cb) => writer.set([...varbinds], cb),
        );
      }),
    walk: async (oid) => {
      const out: Varbind[] = [];
      let cursor = oid;
      // One GETBULK per queue slot, so a long walk does not starve SETs of other callers.
      for (;;) {
        const page = await queued(() => getBulk(cursor));
        let done = page.length === 0;
        for (const vb of page) {
          if (vb.type === EndOfMibView || !vb.oid.startsWith(oid + ".")) {
            done = true;
            break;
          }
          // An agent answering a GETBULK with a non-increasing OID would make the walk loop forever.
          if (compareOid(oidParts(vb.oid), oidParts(cursor)) <= 0) {
            throw new SnmpError("SNMP_FAILED", `switch returned ${vb.oid} after ${cursor} while walking ${oid}: OIDs not increasing`);
          }
          out.push(vb);
          cursor = vb.oid;
        }
        if (done) return out;
      }
    },
    close: () => {
      reader.close();
      writer.close();
    },
  };
}

/** Maps a net-snmp error onto a typed `SnmpError`. */
export function translateSnmpError(err: unknown, oids: readonly string[]): SnmpError {
  if (err instanceof snmp.RequestTimedOutError) {
    // A wrong v2c community looks exactly like this (the agent stays silent, reference §4.2).
    return new SnmpError("SNMP_TIMEOUT", `no answer from the switch for ${oids[0] ?? "request"} (switch down, wrong community, or SNMPv3 credentials an agent drops silently)`, { cause: err });
  }
  if (err instanceof snmp.RequestFailedError) {
    const oid = /: (\S+)$/.exec(err.message)?.[1] ?? null;
    return new SnmpError("SNMP_SET_REJECTED", `switch refused the request: ${errorStatusName(err.status)} at ${oid ?? "?"}`, { status: err.status, oid, cause: err });
  }
  if (err instanceof snmp.ResponseInvalidError && err.code === 5) {
    return new SnmpError("SNMP_AUTH_FAILED", "switch answered with a wrong digest: SNMPv3 auth key mismatch", { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SnmpError("SNMP_FAILED", `snmp request failed: ${message}`, { cause: err });
}

/** True when a varbind carries a value (not noSuchObject/noSuchInstance/endOfMibView). */
export const hasValue = (vb: Varbind | undefined): vb is Varbind => vb !== undefined && !snmp.isVarbindError(vb);
