/** The db health endpoint's JSON answer, decoded and checked (the codec: no I/O). */
import { z } from "zod";
import { DecodeError } from "../../lib/errors.ts";

const gtid = z.string().regex(/^[0-9,-]*$/);
const replicaSchema = z.strictObject({
  io: z.string(),
  sql: z.string(),
  secondsBehind: z.number().int().nullable(),
  gtidIoPos: gtid,
  masterHost: z.string(),
  lastIoErrno: z.number().int().nullable(),
  lastSqlErrno: z.number().int().nullable(),
});
const upSchema = z.strictObject({
  up: z.literal(true),
  role: z.enum(["primary", "replica", "standby"]),
  readOnly: z.boolean(),
  serverId: z.number().int().nullable(),
  gtidCurrentPos: gtid,
  gtidSlavePos: gtid,
  gtidBinlogPos: gtid,
  semiSync: z.strictObject({ enabled: z.boolean(), status: z.boolean(), clients: z.number().int().nullable() }),
  replica: replicaSchema.nullable(),
});
const downSchema = z.strictObject({ up: z.literal(false), role: z.literal("down") });

/** What a db node reports about itself. */
export type DbHealth = z.output<typeof upSchema> | z.output<typeof downSchema>;
/** A node whose server answered. */
export type DbHealthUp = z.output<typeof upSchema>;

/** Decodes the endpoint's body; throws DecodeError with the reason on anything else. */
export function decodeDbHealth(body: string): DbHealth {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new DecodeError("DB_HEALTH_MALFORMED", `db health answer is not JSON: ${JSON.stringify(body.slice(0, 80))}`, { cause: err });
  }
  const r = z.union([upSchema, downSchema]).safeParse(json);
  if (!r.success) throw new DecodeError("DB_HEALTH_MALFORMED", `db health answer does not match the schema: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return r.data;
}

/** True when both replica threads run (the replica has everything the primary sent and applies it). */
export const isReplicating = (h: DbHealth): boolean => h.up && h.role === "replica" && h.replica?.io === "Yes" && h.replica.sql === "Yes";

/** One line for `pirack workloads status`. */
export function describeDbHealth(h: DbHealth): string {
  if (!h.up) return "mariadb not answering";
  if (h.role === "replica" && h.replica) return `replica of ${h.replica.masterHost}: io ${h.replica.io}, sql ${h.replica.sql}, lag ${h.replica.secondsBehind ?? "?"} s, gtid ${h.gtidSlavePos || "-"}`;
  if (h.role === "primary") return `primary (writable), gtid ${h.gtidBinlogPos || "-"}, semi-sync ${h.semiSync.status ? "on" : "off"} (${h.semiSync.clients ?? 0} replica)`;
  return `standby (read-only, replicating from nobody), gtid ${h.gtidCurrentPos || "-"}`;
}
