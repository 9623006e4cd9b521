/**
 * The contract every workload role (web, db, cdn) implements, and the context it renders from. A role is data plus
 * pure functions: which packages its root layer holds, which files each Pi of the role gets, which units are
 * enabled, and (optionally) how pirack probes a node's health. No I/O happens here except in `health`.
 */
import type { WorkloadsConfig } from "./config.ts";

/** The roles a Pi can have (`pis[].role`); `none` gets the plain golden image and no workload files. */
export type RoleName = "web" | "db" | "cdn";

/** One Pi that has a role, as every other node of the cluster sees it. */
export interface RoleNode {
  /** Pi name from the plan (`pis[].name` or `<shelf>-<port>`); also its host name in every `/etc/hosts`. */
  readonly name: string;
  readonly port: number;
  readonly role: RoleName;
  /** Public (shared VLAN) IPv6 address without prefix length, e.g. `2a00:1098:0:84:1000:1::2`. */
  readonly publicAddress: string;
  /** The Pi's address on its storage /30 (`.2`), e.g. `10.46.189.2`. */
  readonly storageAddress: string;
  /** The fileserver's address on the same /30 (`.1`): where the Pi mounts anything the fileserver shares. */
  readonly serverAddress: string;
}

/** Every role node of the rack, in port order. */
export interface Cluster {
  readonly nodes: readonly RoleNode[];
  /** `paths.exports` on the fileserver: shares the roles mount (the web uploads) live under it. */
  readonly exportsDir: string;
}

/** Nodes of one role, in port order. */
export const nodesOf = (cluster: Cluster, role: RoleName): RoleNode[] => cluster.nodes.filter((n) => n.role === role);

/** A secret a role needs: generated once per cluster, kept under `paths.state`, never logged. */
export interface SecretSpec {
  /** Key in the secrets store, e.g. `db.sitePassword`; shared by every role that names it. */
  readonly name: string;
  /** Random bytes before encoding (the value is URL-safe base64 of this many bytes). */
  readonly bytes: number;
}

/** Generated secrets by name; renderers read only the names their role declared. */
export type Secrets = Readonly<Record<string, string>>;

/** What a role renders from: this Pi, the whole cluster, the `workloads:` config and the generated secrets. */
export interface RenderContext {
  readonly node: RoleNode;
  readonly cluster: Cluster;
  readonly workloads: WorkloadsConfig;
  readonly secrets: Secrets;
}

/** One file in a Pi's root, written by pirack. */
export interface RenderedFile {
  /** Path inside the Pi's root, relative (`etc/nginx/conf.d/pirack-site.conf`). */
  readonly path: string;
  readonly content: string;
  readonly mode: number;
  /** Group name resolved in the Pi root's own `/etc/group` when written (e.g. `www-data` for wp-config). */
  readonly group?: string;
  /** True when the content holds a secret: `pirack plan` shows it redacted, logs never show it. */
  readonly secret?: boolean;
  /** A symlink rather than a file: `content` is the link target (unit enablement). */
  readonly symlink?: boolean;
}

/** One unit to enable: `etc/systemd/system/<wantedBy>.wants/<unit>` -> `source`. */
export interface UnitLink {
  readonly unit: string;
  /** Target that wants it: `multi-user.target` for services, `timers.target`, `remote-fs.target`, `sockets.target`. */
  readonly wantedBy: string;
  /** The unit file on the Pi: `/lib/systemd/system/<unit>` for a package's unit, `/etc/systemd/system/<unit>` for pirack's. */
  readonly source: string;
}

/** A package's unit (in `/lib/systemd/system`) enabled for `wantedBy` (default multi-user.target). */
export const packageUnit = (unit: string, wantedBy = "multi-user.target"): UnitLink => ({ unit, wantedBy, source: `/lib/systemd/system/${unit}` });

/** A unit pirack renders into `/etc/systemd/system` enabled for `wantedBy`. */
export const pirackUnit = (unit: string, wantedBy = "multi-user.target"): UnitLink => ({ unit, wantedBy, source: `/etc/systemd/system/${unit}` });

/** Health of one role node as pirack's probe saw it. */
export interface Health {
  readonly node: string;
  readonly role: RoleName;
  readonly healthy: boolean;
  /** One line for the status table ("200 in 12 ms", "connect refused"). */
  readonly detail: string;
  /** Role-specific fields for `--json` and the API (db: read_only, gtid, lag...). */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** What a health probe may use: an injected fetch (so tests can point it anywhere) and a time limit. */
export interface ProbeDeps {
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  readonly workloads: WorkloadsConfig;
  readonly cluster: Cluster;
}

/** A workload role: its root layer's packages, per-Pi files and units, and its health probe. */
export interface Role {
  readonly name: RoleName;
  /** Debian packages installed (`--no-install-recommends`) into the role layer `<image>+<name>`. */
  readonly packages: readonly string[];
  /** Units the packages enable that the layer builder disables again (pirack enables them per Pi). */
  readonly packageUnits: readonly string[];
  /** Paths (relative to the root) the layer builder deletes after install: package defaults that would conflict. */
  readonly layerRemovals?: readonly string[];
  /** Secrets this role's renderers read. */
  readonly secrets: readonly SecretSpec[];
  /** Every file this Pi gets for the role (unit enablement symlinks come from `units`, not here). */
  renderPiFiles(ctx: RenderContext): RenderedFile[];
  /** Units enabled on this Pi, each by a symlink in `etc/systemd/system/<wantedBy>.wants/`. */
  units(ctx: RenderContext): UnitLink[];
  /** Probes one node of this role; never throws (an unreachable node is an unhealthy Health). */
  health?(node: RoleNode, deps: ProbeDeps): Promise<Health>;
}
