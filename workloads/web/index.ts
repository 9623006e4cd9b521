/** The web role: nginx + php-fpm + Debian's wordpress with the twentytwentythree theme. */
import { packageUnit, pirackUnit, type Health, type ProbeDeps, type Role, type RoleNode } from "../role.ts";
import { httpBase, probeHttp } from "../probe.ts";
import { DB_SITE_PASSWORD, isPrimaryWeb, PHP_VERSION, renderWebFiles, UPLOADS_MOUNT_UNIT, WEB_HEALTH_PATH, WP_SALTS } from "./render.ts";

export * from "./render.ts";

/** Probes a web Pi's health path (PHP + database) with the site's Host header. */
export async function probeWeb(node: RoleNode, deps: ProbeDeps): Promise<Health> {
  const host = new URL(deps.workloads.site.url).hostname;
  const r = await probeHttp(deps.fetch, `${httpBase(node.publicAddress)}${WEB_HEALTH_PATH}`, { timeoutMs: deps.timeoutMs, headers: { Host: host } });
  return { node: node.name, role: "web", healthy: r.status === 200, detail: r.status === 200 ? r.detail : `${r.detail}${r.body ? `: ${r.body.trim()}` : ""}`, data: { status: r.status, elapsedMs: r.elapsedMs } };
}

/** The web role. */
export const webRole: Role = {
  name: "web",
  // `php` (not only php8.2-fpm) and nginx in the same install satisfy wordpress's `apache2 | httpd` and
  // `libapache2-mod-php | php` without pulling Apache; the theme is only a Recommends of wordpress, and php-xml
  // (XML-RPC, feeds), php-mbstring and php-curl only Suggests, though WordPress needs them to work in full.
  packages: ["nginx", `php${PHP_VERSION}-fpm`, "php", "php-mysql", "php-xml", "php-mbstring", "php-curl", "wordpress", "wordpress-theme-twentytwentythree", "curl", "nfs-common", "haproxy"],
  packageUnits: ["nginx.service", `php${PHP_VERSION}-fpm.service`, "haproxy.service"],
  layerRemovals: ["etc/nginx/sites-enabled/default", `etc/php/${PHP_VERSION}/fpm/pool.d/www.conf`],
  secrets: [{ name: DB_SITE_PASSWORD, bytes: 24 }, ...WP_SALTS.map((s) => ({ name: `wp.${s}`, bytes: 48 }))],
  renderPiFiles: renderWebFiles,
  units: (ctx) => [
    packageUnit("nginx.service"),
    packageUnit(`php${PHP_VERSION}-fpm.service`),
    packageUnit("haproxy.service"),
    pirackUnit(UPLOADS_MOUNT_UNIT, "remote-fs.target"),
    ...(isPrimaryWeb(ctx) ? [pirackUnit("pirack-wp-cron.timer", "timers.target")] : []),
  ],
  health: probeWeb,
};
