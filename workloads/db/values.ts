/**
 * Everything the db role's files are rendered from, as plain values: built from the role context by
 * `dbValues`, or by hand in tests. Secrets are URL-safe base64, so they sit inside single-quoted SQL and
 * option files without escaping (checked here, never trusted).
 */
import type { RenderContext } from "../role.ts";
import { nodesOf } from "../role.ts";
import type { DbLayout } from "./layout.ts";
import { debianLayout } from "./layout.ts";

/** Secret names the db role declares (role.ts `secrets`). */
export const DbSecret = {
  site: "db.sitePassword",
  replication: "db.replicationPassword",
  admin: "db.adminPassword",
  health: "db.healthPassword",
} as const;

/** The values one db Pi's files are rendered from. */
export interface DbNodeValues {
  readonly name: string;
  /** MariaDB server_id: the Pi's switch port, unique in the rack and never 0. */
  readonly serverId: number;
  /** `primary`: creates the site database at first boot; `replica`: clones from `primaryHost` first. */
  readonly initialRole: "primary" | "replica";
  /** The primary's public address (replication and cloning run on the public VLAN). */
  readonly primaryHost: string;
  readonly database: string;
  readonly siteUser: string;
  readonly replicationUser: string;
  readonly dbPort: number;
  readonly healthPort: number;
  readonly maxLagSeconds: number;
  readonly bufferPoolMb: number;
  /** Where the site user may connect from: each web Pi's public address (its local HAProxy). */
  readonly siteHosts: readonly string[];
  /** Where the replication user may connect from: the db Pis' public addresses. */
  readonly replicationHosts: readonly string[];
  /** Where pirack's admin account may connect from: the fileserver's address on each db Pi's /30. */
  readonly adminHosts: readonly string[];
  readonly secrets: { readonly site: string; readonly replication: string; readonly admin: string; readonly health: string };
  readonly layout: DbLayout;
}

/** pirack's own accounts on every db Pi (fixed names: the config names only the site's). */
export const DbAccount = { admin: "pirack_admin", health: "pirack_health" } as const;

// `pirack plan` renders with stand-ins ("<secret db.sitePassword>", workloads/render.ts placeholderSecrets).
const safeSecret = /^([A-Za-z0-9_-]{16,}|<secret [A-Za-z0-9.]+>)$/;
const safeHost = /^[0-9A-Za-z.:%_-]+$/;

/** Throws when a value would need quoting in SQL or an option file (they are generated, so this is a bug). */
export function checkDbValues(v: DbNodeValues): void {
  for (const [k, s] of Object.entries(v.secrets)) if (!safeSecret.test(s)) throw new Error(`db secret ${k} is not URL-safe base64 of at least 16 characters`);
  for (const h of [v.primaryHost, ...v.siteHosts, ...v.replicationHosts, ...v.adminHosts]) {
    if (!safeHost.test(h)) throw new Error(`db host ${JSON.stringify(h)} is not a plain address or host pattern`);
  }
}

/** The initial primary's name: `workloads.db.primary`, else the first db Pi by port. */
export function primaryDbName(ctx: Pick<RenderContext, "cluster" | "workloads">): string | undefined {
  return ctx.workloads.db.primary ?? nodesOf(ctx.cluster, "db")[0]?.name;
}

/** Values for `ctx.node` from the role context (Debian layout unless one is given). */
export function dbValues(ctx: RenderContext, layout: DbLayout = debianLayout): DbNodeValues {
  const dbs = nodesOf(ctx.cluster, "db");
  const primaryName = primaryDbName(ctx);
  const primary = dbs.find((n) => n.name === primaryName) ?? ctx.node;
  const secret = (name: string): string => {
    const s = ctx.secrets[name];
    if (s === undefined) throw new Error(`db secret ${name} was not generated`);
    return s;
  };
  const db = ctx.workloads.db;
  return {
    name: ctx.node.name,
    serverId: ctx.node.port,
    initialRole: primary.name === ctx.node.name ? "primary" : "replica",
    primaryHost: primary.publicAddress,
    database: db.name,
    siteUser: db.user,
    replicationUser: db.replicationUser,
    dbPort: db.port,
    healthPort: db.healthPort,
    maxLagSeconds: db.maxLagSeconds,
    bufferPoolMb: db.bufferPoolMb,
    siteHosts: nodesOf(ctx.cluster, "web").map((n) => n.publicAddress),
    replicationHosts: dbs.map((n) => n.publicAddress),
    adminHosts: [...new Set(dbs.map((n) => n.serverAddress))],
    secrets: { site: secret(DbSecret.site), replication: secret(DbSecret.replication), admin: secret(DbSecret.admin), health: secret(DbSecret.health) },
    layout,
  };
}
