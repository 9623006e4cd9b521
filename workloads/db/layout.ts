/**
 * Where the db role's files live on a db Pi. Production uses Debian's paths; tests render the same files with
 * every path moved under a temporary directory so real daemons run on the host without touching its MariaDB.
 */

/** Absolute paths on the node (inside the Pi's root once it boots). */
export interface DbLayout {
  /** MariaDB data directory: in the Pi's own root, never shared. */
  readonly datadir: string;
  readonly socket: string;
  readonly pidFile: string;
  /** The server drop-in read by Debian's /etc/mysql/my.cnf. */
  readonly serverConfig: string;
  /** The option file mariadbd and mariadb-install-db read (Debian: my.cnf, which includes the drop-in). */
  readonly mainConfig: string;
  /** Client option files, init SQL and the marker directory's parent. */
  readonly confDir: string;
  /** The health and init scripts. */
  readonly libexecDir: string;
  /** mariadbd's temporary files (per test root, so servers on one host never share one). */
  readonly tmpDir: string;
}

/** Debian bookworm's paths, as the Pi sees them. */
export const debianLayout: DbLayout = {
  datadir: "/var/lib/mysql",
  socket: "/run/mysqld/mysqld.sock",
  pidFile: "/run/mysqld/mysqld.pid",
  serverConfig: "/etc/mysql/mariadb.conf.d/60-pirack-db.cnf",
  mainConfig: "/etc/mysql/my.cnf",
  confDir: "/etc/mysql/pirack",
  libexecDir: "/usr/local/lib/pirack",
  tmpDir: "/tmp",
};

/** The same layout with every path under `root` (tests and the failover benchmark). */
export function layoutUnder(root: string): DbLayout {
  const at = (p: string): string => `${root}${p}`;
  return {
    datadir: at(debianLayout.datadir),
    socket: at(debianLayout.socket),
    pidFile: at(debianLayout.pidFile),
    serverConfig: at(debianLayout.serverConfig),
    // No Debian my.cnf under a test root: the daemons read the drop-in alone.
    mainConfig: at(debianLayout.serverConfig),
    confDir: at(debianLayout.confDir),
    libexecDir: at(debianLayout.libexecDir),
    tmpDir: at(debianLayout.tmpDir),
  };
}

/** Files the scripts read, derived from the layout. */
export const layoutFiles = (l: DbLayout) => ({
  /** root over the unix socket (unix_socket authentication): init and clone. */
  localClient: `${l.confDir}/local.cnf`,
  /** The health account (password), read by the health script. */
  healthClient: `${l.confDir}/health.cnf`,
  /** The replication account, used by a replica to clone from the primary. */
  cloneClient: `${l.confDir}/clone.cnf`,
  initSql: `${l.confDir}/init.sql`,
  /** CHANGE MASTER TO ... for a replica (holds the replication password). */
  replicaSql: `${l.confDir}/replica.sql`,
  /** Shell variables of the init script: this Pi's first-boot role and where it clones from. */
  initParams: `${l.confDir}/init.env`,
  healthScript: `${l.libexecDir}/db-health`,
  initScript: `${l.libexecDir}/db-init`,
  prepareScript: `${l.libexecDir}/db-prepare`,
  /** Written into the datadir when init finished: a re-cloned (empty) datadir runs init again. */
  initDone: `${l.datadir}/pirack-init.done`,
  /** The primary's dump a replica loads, kept until init finished (clone of a fresh replica). */
  cloneDump: `${l.datadir}/pirack-clone.sql`,
});
