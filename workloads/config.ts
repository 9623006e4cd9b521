/**
 * The `workloads:` section of rack.yaml: the site every role serves. Defaults are filled here and nowhere else;
 * `checkWorkloads` holds the checks that need the Pis' roles (appliance/config.ts runs it with every other check).
 */
import { z } from "zod";

const label = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a name label: a-z, 0-9 and '-', 1-63 characters");
/** MariaDB identifiers we render unquoted into SQL and config: keep them plain. */
const sqlName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,31}$/, "must be 1-32 characters of a-z, A-Z, 0-9 and '_', not starting with a digit");

const siteUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === "http:" || u.protocol === "https:") && u.pathname === "/" && !u.search && !u.hash && !u.username;
    } catch {
      return false;
    }
  }, "must be an http(s) URL with no path, e.g. https://www.example.org")
  .transform((s) => s.replace(/\/+$/, ""));

/** The `workloads:` schema (every key has a default, so a rack without workloads still parses). */
export const workloadsSchema = z
  .strictObject({
    site: z
      .strictObject({
        /** Names the site in paths (uploads share, secrets) and metrics. */
        name: label.default("www"),
        /** The public URL: its host is the name nginx and WordPress answer to (WP_HOME, WP_SITEURL). */
        url: siteUrl.default("https://www.example.org"),
        title: z.string().min(1).max(200).refine((s) => !/[\r\n]/.test(s), "must be a single line").default("pirack"),
      })
      .prefault({}),
    db: z
      .strictObject({
        name: sqlName.default("wordpress"),
        user: sqlName.default("wordpress"),
        port: z.number().int().min(1).max(65535).default(3306),
        /** Account the replica (and a re-cloning old primary) uses to read the primary; never the site's. */
        replicationUser: sqlName.default("pirack_repl"),
        /** The db Pi that starts as primary (default: the first db Pi by port); failover changes it at run time. */
        primary: label.optional(),
        /** InnoDB buffer pool per db Pi: 256 MiB is a quarter of a 1 GB Pi 3. */
        bufferPoolMb: z.number().int().min(8).max(65_536).default(256),
        /** TCP port of each db Pi's health endpoint (systemd socket, `GET /`, `/primary`, `/replica`). */
        healthPort: z.number().int().min(1).max(65535).default(8306),
        /** `/replica` answers 200 only while Seconds_Behind_Master is at most this. */
        maxLagSeconds: z.number().int().min(0).max(86_400).default(5),
        failover: z
          .strictObject({
            /** false: pirack reports a dead primary but never fences or promotes by itself. */
            enabled: z.boolean().default(true),
            /** Health poll of each db Pi; also the web Pis' HAProxy check interval. */
            intervalMs: z.number().int().min(100).max(60_000).default(500),
            timeoutMs: z.number().int().min(50).max(30_000).default(1000),
            /** Failed polls in a row before the primary counts as dead. */
            fails: z.number().int().min(1).max(20).default(2),
            /** Longest wait for the replica to apply its relay log before promotion. */
            catchUpMs: z.number().int().min(100).max(600_000).default(10_000),
            /** Failed polls of the replica in a row before the primary is let run alone (semi-sync off). */
            replicaFails: z.number().int().min(1).max(1000).default(6),
            /** Re-clone a fenced old primary as a replica by itself (else `pirack workloads rejoin <port>`). */
            autoRejoin: z.boolean().default(false),
          })
          .prefault({}),
      })
      .prefault({}),
    web: z
      .strictObject({
        /** The web Pi serving wp-admin and running wp-cron (default: the first web Pi by port). */
        primary: label.optional(),
        /** php-fpm children per web Pi (pm = static): 4 fits a 1 GB Pi 3 with opcache. */
        phpWorkers: z.number().int().min(1).max(64).default(4),
        /** Largest request body (media upload), nginx `client_max_body_size` and PHP `upload_max_filesize`. */
        maxUploadMb: z.number().int().min(1).max(1024).default(64),
        /**
         * Longest a page may take to render: PHP's max_execution_time, php-fpm's request_terminate_timeout, the
         * web Pi's nginx fastcgi_read_timeout and the CDN's proxy_read_timeout. 60 s is nginx's own default; an
         * emulated Pi (the bench) needs minutes for WordPress's install.
         */
        requestTimeoutSeconds: z.number().int().min(5).max(3600).default(60),
      })
      .prefault({}),
    cdn: z
      .strictObject({
        /** Seconds a page stays fresh in the CDN cache before it is refreshed in the background. */
        cacheSeconds: z.number().int().min(1).max(86_400).default(60),
        /** Cache size on the CDN Pi, in MiB (tmpfs `/var/cache/nginx/pirack`). */
        cacheMb: z.number().int().min(8).max(4096).default(128),
        /** Upstream weight per web Pi name (default 1 each); 0 drains a Pi on purpose. */
        weights: z.record(label, z.number().int().min(0).max(1000)).default({}),
        health: z
          .strictObject({
            intervalMs: z.number().int().min(200).max(60_000).default(1000),
            timeoutMs: z.number().int().min(100).max(30_000).default(1000),
            /** Failed probes in a row before a web Pi is drained. */
            fails: z.number().int().min(1).max(20).default(2),
            /** Good probes in a row before a drained web Pi returns. */
            rises: z.number().int().min(1).max(20).default(2),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .prefault({});

/** The validated `workloads:` section, every default filled. */
export type WorkloadsConfig = DeepReadonly<z.output<typeof workloadsSchema>>;

type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** Defaults of the whole section (a rack without `workloads:`). */
export const defaultWorkloads = (): WorkloadsConfig => workloadsSchema.parse(undefined);

/** A Pi as the cross-section checks need it: its plan name and role. */
export interface NamedRole {
  readonly index: number;
  readonly name: string;
  readonly role: string;
}

/** Checks that need the roles of the Pis; problems as `path: message`. */
export function checkWorkloads(w: Partial<WorkloadsConfig> | undefined, pis: readonly NamedRole[]): string[] {
  const problems: string[] = [];
  const webs = pis.filter((p) => p.role === "web").map((p) => p.name);
  const cdns = pis.filter((p) => p.role === "cdn");
  for (const cdn of cdns) {
    if (webs.length === 0) problems.push(`pis[${cdn.index}].role: a cdn Pi needs at least one web Pi to balance over (no Pi has role web)`);
  }
  const primary = w?.web?.primary;
  if (primary !== undefined && !webs.includes(primary)) {
    problems.push(`workloads.web.primary: ${primary} is not a web Pi (web Pis: ${webs.join(", ") || "none"})`);
  }
  for (const [name, weight] of Object.entries(w?.cdn?.weights ?? {})) {
    if (!webs.includes(name)) problems.push(`workloads.cdn.weights.${name}: not a web Pi (web Pis: ${webs.join(", ") || "none"})`);
    else if (weight === 0 && webs.length === 1) problems.push(`workloads.cdn.weights.${name}: the only web Pi cannot have weight 0`);
  }
  const dbs = pis.filter((p) => p.role === "db").map((p) => p.name);
  const dbPrimary = w?.db?.primary;
  if (dbPrimary !== undefined && !dbs.includes(dbPrimary)) {
    problems.push(`workloads.db.primary: ${dbPrimary} is not a db Pi (db Pis: ${dbs.join(", ") || "none"})`);
  }
  if (dbs.length > 2) problems.push(`pis: ${dbs.length} Pis have role db (${dbs.join(", ")}); the db role is one primary and one replica`);
  if (webs.length > 0 && webs.every((n) => (w?.cdn?.weights ?? {})[n] === 0)) {
    problems.push("workloads.cdn.weights: every web Pi has weight 0; the CDN would have no upstream");
  }
  return problems;
}

/** The primary web Pi's name: `workloads.web.primary`, else the first web Pi by port. */
export function primaryWebName(w: WorkloadsConfig, webNamesInPortOrder: readonly string[]): string | undefined {
  return w.web.primary ?? webNamesInPortOrder[0];
}
