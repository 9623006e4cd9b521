/**
 * Web role files (pure): nginx in front of php-fpm running Debian's `wordpress` package. Every web Pi serves the
 * site; wp-admin and wp-login are served by the primary web Pi only (the others proxy those paths to it); wp-cron
 * runs on the primary only, from a systemd timer; uploads are one NFS share from the fileserver on every web Pi.
 */
import { renderWebDbProxy } from "../db/render-proxy.ts";
import { nodesOf, type Cluster, type RenderContext, type RenderedFile, type RoleNode } from "../role.ts";
import { primaryWebName } from "../config.ts";
import { escapeSystemdPath, phpString, GENERATED } from "../render-util.ts";

/** PHP branch of Debian 12 (php8.2-fpm): socket, config and unit names carry it. */
export const PHP_VERSION = "8.2";
/** php-fpm's socket as Debian's pool names it. */
export const PHP_SOCKET = `/run/php/php${PHP_VERSION}-fpm.sock`;
/** Where Debian's wordpress package keeps wp-content (themes and plugins are symlinks into /usr/share). */
export const WP_CONTENT = "/var/lib/wordpress/wp-content";
/** The uploads directory every web Pi shares. */
export const UPLOADS_DIR = `${WP_CONTENT}/uploads`;
/** Path the CDN (and `pirack workloads status`) probes: 200 when PHP and the database answer. */
export const WEB_HEALTH_PATH = "/pirack-health";
/** The health script in the Pi root, outside the WordPress tree so nothing else can reach it by another URL. */
export const HEALTH_SCRIPT = "/usr/local/share/pirack/web-health.php";
/** Salt names WordPress reads (wp-config-sample.php); each becomes a cluster secret `wp.<name>`. */
export const WP_SALTS = ["AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"] as const;
/** The site database user's password (shared with the db role, which creates the user). */
export const DB_SITE_PASSWORD = "db.sitePassword";
/** Unit name of the uploads mount (systemd derives it from the mount point). */
export const UPLOADS_MOUNT_UNIT = `${escapeSystemdPath(UPLOADS_DIR)}.mount`;

/** Host part of the site URL: the name nginx and WordPress answer to. */
export const siteHost = (ctx: Pick<RenderContext, "workloads">): string => new URL(ctx.workloads.site.url).hostname;

/** The primary web Pi of the cluster (admin, wp-cron). */
export function primaryWeb(ctx: Pick<RenderContext, "workloads" | "cluster">): RoleNode | undefined {
  const webs = nodesOf(ctx.cluster, "web");
  const name = primaryWebName(ctx.workloads, webs.map((w) => w.name));
  return webs.find((w) => w.name === name);
}

/** True when this Pi is the primary web Pi. */
export const isPrimaryWeb = (ctx: RenderContext): boolean => primaryWeb(ctx)?.name === ctx.node.name;

/** `/etc/nginx/nginx.conf` of a web Pi. */
export function renderWebNginx(ctx: RenderContext): string {
  const primary = primaryWeb(ctx);
  const adminHere = primary === undefined || primary.name === ctx.node.name;
  const php = (extra: string[] = []) => [
    "      include /etc/nginx/fastcgi_params;",
    "      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;",
    // Debian's /usr/share/wordpress/wp-config.php picks /etc/wordpress/config-$WORDPRESS_CONFIG.php first.
    "      fastcgi_param WORDPRESS_CONFIG default;",
    `      fastcgi_pass unix:${PHP_SOCKET};`,
    `      fastcgi_read_timeout ${ctx.workloads.web.requestTimeoutSeconds}s;`,
    ...extra.map((l) => `      ${l}`),
  ];
  // The primary serves admin with the general locations below; the others proxy it there.
  const admin = adminHere
    ? []
    : [
        `    # Admin is served by the primary web Pi ${primary.name} only.`,
        "    location ~ ^/(wp-admin/|wp-login\\.php) {",
        `      proxy_pass http://[${primary.publicAddress}]:80;`,
        "      proxy_set_header Host $host;",
        "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "      proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;",
        "      proxy_connect_timeout 2s;",
        // Its own add_header replaces the server's: the primary's X-Served-By names who rendered the page.
        `      add_header X-Proxied-By "${ctx.node.name}" always;`,
        "    }",
      ];
  return [
    `${GENERATED}: nginx for web Pi ${ctx.node.name} (site ${ctx.workloads.site.name}); edits are overwritten`,
    "user www-data;",
    "worker_processes auto;",
    "pid /run/nginx.pid;",
    "error_log /var/log/nginx/error.log;",
    "",
    "events {",
    "  worker_connections 768;",
    "}",
    "",
    "http {",
    "  include /etc/nginx/mime.types;",
    "  default_type application/octet-stream;",
    "  sendfile on;",
    "  server_tokens off;",
    "  access_log /var/log/nginx/access.log;",
    `  client_max_body_size ${ctx.workloads.web.maxUploadMb}m;`,
    "",
    "  server {",
    "    listen 80 default_server;",
    "    listen [::]:80 default_server;",
    "    server_name _;",
    "    root /usr/share/wordpress;",
    "    index index.php;",
    `    add_header X-Served-By "${ctx.node.name}" always;`,
    "",
    `    location = ${WEB_HEALTH_PATH} {`,
    "      access_log off;",
    ...php().map((l) => l.replace("$document_root$fastcgi_script_name", HEALTH_SCRIPT)),
    "    }",
    // wp-cron runs from the primary's timer over loopback only; through the CDN it would run on a random Pi.
    "    location = /wp-cron.php {",
    "      allow 127.0.0.1;",
    "      allow ::1;",
    "      deny all;",
    ...php(),
    "    }",
    ...admin,
    "    location ~ ^/wp-content/.*\\.php$ {",
    "      deny all;",
    "    }",
    "    location ~ ^/wp-content/(.*)$ {",
    `      alias ${WP_CONTENT}/$1;`,
    "      expires 7d;",
    "    }",
    "    location ~ \\.php$ {",
    "      try_files $fastcgi_script_name =404;",
    ...php(),
    "    }",
    "    location / {",
    "      try_files $uri $uri/ /index.php?$args;",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** `/etc/php/8.2/fpm/pool.d/pirack.conf`: the one pool, static children (predictable memory on a Pi). */
export function renderFpmPool(ctx: RenderContext): string {
  return [
    `; generated by pirack: php-fpm pool for web Pi ${ctx.node.name}; edits are overwritten`,
    "[www]",
    "user = www-data",
    "group = www-data",
    `listen = ${PHP_SOCKET}`,
    "listen.owner = www-data",
    "listen.group = www-data",
    "listen.mode = 0660",
    "pm = static",
    `pm.max_children = ${ctx.workloads.web.phpWorkers}`,
    "pm.max_requests = 500",
    // Keeps WORDPRESS_CONFIG and friends from nginx; the default also clears the Pi's environment.
    "clear_env = yes",
    `php_admin_value[upload_max_filesize] = ${ctx.workloads.web.maxUploadMb}M`,
    `php_admin_value[post_max_size] = ${ctx.workloads.web.maxUploadMb}M`,
    // A page past the site's request timeout is ended by PHP first (an error page), by php-fpm if PHP cannot.
    `php_admin_value[max_execution_time] = ${ctx.workloads.web.requestTimeoutSeconds}`,
    `request_terminate_timeout = ${ctx.workloads.web.requestTimeoutSeconds + 5}s`,
    "php_admin_value[opcache.enable] = 1",
    "php_admin_value[opcache.memory_consumption] = 64",
    "",
  ].join("\n");
}

/** `/etc/wordpress/config-default.php`: the site config Debian's dispatcher loads (0640 root:www-data: secrets). */
export function renderWpConfig(ctx: RenderContext): string {
  const def = (name: string, value: string | boolean) => `define(${phpString(name)}, ${typeof value === "boolean" ? String(value) : phpString(value)});`;
  const secret = (name: string): string => {
    const v = ctx.secrets[name];
    if (v === undefined) throw new Error(`secret ${name} was not generated`);
    return v;
  };
  return [
    "<?php",
    `// generated by pirack: WordPress config of site ${ctx.workloads.site.name} on ${ctx.node.name}; edits are overwritten`,
    def("DB_NAME", ctx.workloads.db.name),
    def("DB_USER", ctx.workloads.db.user),
    def("DB_PASSWORD", secret(DB_SITE_PASSWORD)),
    // TCP, not "localhost" (the Unix socket): the web Pi's local DB proxy listens here and follows the primary.
    def("DB_HOST", `127.0.0.1:${ctx.workloads.db.port}`),
    def("DB_CHARSET", "utf8mb4"),
    def("DB_COLLATE", ""),
    def("WP_HOME", ctx.workloads.site.url),
    def("WP_SITEURL", ctx.workloads.site.url),
    def("WP_CONTENT_DIR", WP_CONTENT),
    ...WP_SALTS.map((s) => def(s, secret(`wp.${s}`))),
    // Themes and plugins come from the role layer, never from wp-admin (each Pi's tree must stay identical).
    def("DISALLOW_FILE_MODS", true),
    def("AUTOMATIC_UPDATER_DISABLED", true),
    def("FS_METHOD", "direct"),
    // Every node: page loads never spawn cron (the spawn goes through the CDN to any Pi); the primary's timer runs it.
    def("DISABLE_WP_CRON", true),
    "$table_prefix = 'wp_';",
    "",
  ].join("\n");
}

/** The health script: 200 "ok" when a 1 s connection to the database answers `SELECT 1`, else 503. */
export function renderHealthScript(ctx: RenderContext): string {
  return [
    "<?php",
    `// generated by pirack: health probe of web Pi ${ctx.node.name}; edits are overwritten`,
    "require '/etc/wordpress/config-default.php';",
    "mysqli_report(MYSQLI_REPORT_OFF);",
    "header('Content-Type: text/plain');",
    "header('Cache-Control: no-store');",
    "$db = mysqli_init();",
    "$db->options(MYSQLI_OPT_CONNECT_TIMEOUT, 1);",
    "[$host, $port] = explode(':', DB_HOST);",
    "$ok = @$db->real_connect($host, DB_USER, DB_PASSWORD, DB_NAME, (int) $port) && $db->query('SELECT 1');",
    "http_response_code($ok ? 200 : 503);",
    "echo $ok ? \"ok\\n\" : 'database: ' . mysqli_connect_error() . \"\\n\";",
    "",
  ].join("\n");
}

/** The wp-cron service and timer of the primary web Pi: every minute, over loopback, with the site's Host. */
export function renderCronUnits(ctx: RenderContext): { service: string; timer: string } {
  return {
    service: [
      `${GENERATED}: runs WordPress cron on the primary web Pi ${ctx.node.name}`,
      "[Unit]",
      "Description=WordPress cron (pirack, primary web Pi only)",
      "After=nginx.service php8.2-fpm.service",
      "",
      "[Service]",
      "Type=oneshot",
      `ExecStart=/usr/bin/curl -fsS -o /dev/null --max-time 120 -H "Host: ${siteHost(ctx)}" http://127.0.0.1/wp-cron.php?doing_wp_cron`,
      "",
    ].join("\n"),
    timer: [
      `${GENERATED}: every minute on the primary web Pi ${ctx.node.name}`,
      "[Unit]",
      "Description=WordPress cron every minute (pirack)",
      "",
      "[Timer]",
      "OnBootSec=1min",
      "OnUnitActiveSec=1min",
      "",
      "[Install]",
      "WantedBy=timers.target",
      "",
    ].join("\n"),
  };
}

/** Where the fileserver keeps a site's shared uploads (exported to every web Pi over its storage /30). */
export const uploadsSharePath = (exportsDir: string, site: string): string => `${exportsDir.replace(/\/+$/, "")}/shared/${site}-uploads`;

/** The uploads mount unit: the fileserver's share over this Pi's own storage /30 (never the public VLAN). */
export function renderUploadsMount(ctx: RenderContext, exportsDir: string): string {
  return [
    `${GENERATED}: shared WordPress uploads of site ${ctx.workloads.site.name}`,
    "[Unit]",
    "Description=WordPress uploads shared from the fileserver (pirack)",
    "After=network-online.target",
    "Wants=network-online.target",
    "Before=nginx.service php8.2-fpm.service",
    "",
    "[Mount]",
    `What=${ctx.node.serverAddress}:${uploadsSharePath(exportsDir, ctx.workloads.site.name)}`,
    `Where=${UPLOADS_DIR}`,
    "Type=nfs",
    "Options=vers=3,tcp,hard,noatime,timeo=14",
    "",
    "[Install]",
    "WantedBy=remote-fs.target",
    "",
  ].join("\n");
}

/** Every file of a web Pi. */
export function renderWebFiles(ctx: RenderContext): RenderedFile[] {
  const files: RenderedFile[] = [
    { path: "etc/nginx/nginx.conf", content: renderWebNginx(ctx), mode: 0o644 },
    { path: `etc/php/${PHP_VERSION}/fpm/pool.d/pirack.conf`, content: renderFpmPool(ctx), mode: 0o644 },
    { path: "etc/wordpress/config-default.php", content: renderWpConfig(ctx), mode: 0o640, group: "www-data", secret: true },
    { path: HEALTH_SCRIPT.slice(1), content: renderHealthScript(ctx), mode: 0o644 },
    { path: `etc/systemd/system/${UPLOADS_MOUNT_UNIT}`, content: renderUploadsMount(ctx, ctx.cluster.exportsDir), mode: 0o644 },
    // HAProxy on 127.0.0.1:3306 following whichever db Pi reports writable primary (workloads/db).
    renderWebDbProxy(ctx),
  ];
  if (isPrimaryWeb(ctx)) {
    const cron = renderCronUnits(ctx);
    files.push({ path: "etc/systemd/system/pirack-wp-cron.service", content: cron.service, mode: 0o644 });
    files.push({ path: "etc/systemd/system/pirack-wp-cron.timer", content: cron.timer, mode: 0o644 });
  }
  return files;
}

/** Debian's fixed uid/gid of www-data (base-passwd): every write to the share is owned by it on every web Pi. */
export const WWW_DATA_ID = 33;

/**
 * The fileserver's exports for the uploads share: one line per web Pi, to its storage address only, every client
 * user squashed to www-data (a web Pi's root cannot plant root-owned files in the others' uploads).
 */
export function uploadsShares(cluster: Cluster, site: string): { path: string; clientAddress: string; options: string[] }[] {
  const path = uploadsSharePath(cluster.exportsDir, site);
  const options = ["rw", "sync", "no_subtree_check", "all_squash", `anonuid=${WWW_DATA_ID}`, `anongid=${WWW_DATA_ID}`];
  return nodesOf(cluster, "web").map((w) => ({ path, clientAddress: w.storageAddress, options }));
}
