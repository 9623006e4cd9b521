/**
 * CDN role files (pure): nginx as a caching, weighted load balancer over the web Pis. Pages are fresh for
 * `cacheSeconds`, then refreshed in the background while the stale copy is served; stale copies are also served
 * when every web Pi fails. The upstream list is its own file, rewritten by pirack's health controller; a timer on
 * the CDN Pi reloads nginx when that file changes (see `renderReloadScript` for why not a path unit).
 */
import { nodesOf, type RenderContext, type RenderedFile, type RoleNode } from "../role.ts";
import { GENERATED } from "../render-util.ts";

/** The upstream file the controller rewrites, inside the CDN Pi's root. */
export const UPSTREAM_FILE = "/etc/nginx/pirack/upstream.conf";
/** The reload script run by the CDN Pi's timer. */
export const RELOAD_SCRIPT = "/usr/local/sbin/pirack-cdn-reload";
/** The CDN's own health path (answered by nginx without touching a web Pi). */
export const CDN_HEALTH_PATH = "/pirack-cdn-health";
/** nginx upstream group name. */
const UPSTREAM = "pirack_web";
/** Cookies that mark a visitor WordPress renders a personal page for: logged in, commenter, password-protected post. */
export const BYPASS_COOKIES = ["wordpress_logged_in_", "comment_author_", "wp-postpass_"] as const;

/** One web Pi in the upstream: weight from the config, drained when the controller found it sick. */
export interface UpstreamMember {
  readonly name: string;
  readonly address: string;
  readonly weight: number;
  readonly drained: boolean;
  /** Why it is drained (shown as a comment in the file). */
  readonly reason?: string;
}

/** Weight of a web Pi: `workloads.cdn.weights[name]`, default 1. */
export const weightOf = (ctx: Pick<RenderContext, "workloads">, name: string): number => ctx.workloads.cdn.weights[name] ?? 1;

/** The members as configured, none drained (the file a fresh CDN root starts with). */
export function configuredMembers(ctx: Pick<RenderContext, "workloads" | "cluster">): UpstreamMember[] {
  return nodesOf(ctx.cluster, "web").map((w: RoleNode) => ({ name: w.name, address: w.publicAddress, weight: weightOf(ctx, w.name), drained: false }));
}

/**
 * `/etc/nginx/pirack/upstream.conf`. Weight 0 (config) and drained members are `down`: nginx keeps their slot (so
 * the others' weights stay as configured) but sends them nothing. When every member would be down, all are kept
 * up: nginx's passive checks then try them in turn and the cache serves stale copies on errors.
 */
export function renderUpstream(members: readonly UpstreamMember[]): string {
  const allDown = members.every((m) => m.drained || m.weight === 0);
  const lines = members.map((m) => {
    const down = !allDown && (m.drained || m.weight === 0);
    const why = m.weight === 0 ? "weight 0 in workloads.cdn.weights" : m.drained ? `drained: ${(m.reason ?? "unhealthy").replace(/[\r\n]/g, " ")}` : "";
    return `  server [${m.address}]:80 weight=${Math.max(1, m.weight)} max_fails=1 fail_timeout=5s${down ? " down" : ""}; # ${m.name}${why ? ` (${why})` : ""}`;
  });
  return [
    `${GENERATED}: web Pis behind the CDN; rewritten by pirack's health controller`,
    `upstream ${UPSTREAM} {`,
    ...lines,
    "  keepalive 16;",
    "}",
    "",
  ].join("\n");
}

/** `/etc/nginx/nginx.conf` of a CDN Pi. */
export function renderCdnNginx(ctx: RenderContext): string {
  const seconds = ctx.workloads.cdn.cacheSeconds;
  const proxied = [
    `      proxy_pass http://${UPSTREAM};`,
    "      proxy_http_version 1.1;",
    '      proxy_set_header Connection "";',
    // Debian's wordpress picks its config by Host, and WordPress builds links from it: pass the visitor's.
    "      proxy_set_header Host $host;",
    "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "      proxy_set_header X-Forwarded-Proto $scheme;",
    "      proxy_connect_timeout 1s;",
    `      proxy_read_timeout ${ctx.workloads.web.requestTimeoutSeconds}s;`,
    "      proxy_next_upstream error timeout http_502 http_503 http_504;",
  ];
  return [
    `${GENERATED}: nginx CDN on ${ctx.node.name} (site ${ctx.workloads.site.name}); edits are overwritten`,
    "user www-data;",
    "worker_processes auto;",
    "pid /run/nginx.pid;",
    "error_log /var/log/nginx/error.log;",
    "",
    "events {",
    "  worker_connections 1024;",
    "}",
    "",
    "http {",
    "  include /etc/nginx/mime.types;",
    "  default_type application/octet-stream;",
    "  server_tokens off;",
    "  access_log /var/log/nginx/access.log;",
    `  client_max_body_size ${ctx.workloads.web.maxUploadMb}m;`,
    // inactive=1d: a page nobody asked for in a day is dropped; until then it can be served stale in an outage.
    `  proxy_cache_path /var/cache/pirack levels=1:2 keys_zone=pirack:16m max_size=${ctx.workloads.cdn.cacheMb}m inactive=1d use_temp_path=off;`,
    `  include ${UPSTREAM_FILE};`,
    "",
    "  map $http_cookie $pirack_personal {",
    "    default 0;",
    `    "~*(${BYPASS_COOKIES.join("|")})" 1;`,
    "  }",
    "",
    "  server {",
    "    listen 80 default_server;",
    "    listen [::]:80 default_server;",
    "    server_name _;",
    "",
    `    location = ${CDN_HEALTH_PATH} {`,
    "      access_log off;",
    "      default_type text/plain;",
    '      return 200 "ok\\n";',
    "    }",
    // Admin and login are never cached (the web Pis route them to the primary web Pi).
    "    location ~ ^/(wp-admin/|wp-login\\.php) {",
    ...proxied,
    '      add_header X-Cache "PASS" always;',
    "    }",
    "    location / {",
    ...proxied,
    "      proxy_cache pirack;",
    "      proxy_cache_key $scheme$host$request_uri;",
    `      proxy_cache_valid 200 301 302 ${seconds}s;`,
    `      proxy_cache_valid 404 ${Math.min(seconds, 10)}s;`,
    "      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;",
    "      proxy_cache_background_update on;",
    "      proxy_cache_lock on;",
    "      proxy_cache_lock_timeout 5s;",
    "      proxy_cache_bypass $pirack_personal;",
    "      proxy_no_cache $pirack_personal;",
    "      add_header X-Cache $upstream_cache_status always;",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * The reload script. The CDN Pi's root is an NFS mount, and inotify (what a systemd path unit uses) never sees a
 * change made on the NFS server, so a `.path` unit would not fire when pirack rewrites the upstream file. A 1 s
 * timer compares the file's hash with the one last loaded instead; NFS close-to-open consistency makes each open
 * see the server's current content. nginx is reloaded (HUP via `nginx -s reload`) only when `nginx -t` accepts the
 * new file, so a bad file never takes the CDN down.
 */
export function renderReloadScript(ctx: RenderContext): string {
  return [
    "#!/bin/sh",
    `${GENERATED}: reloads nginx on CDN Pi ${ctx.node.name} when ${UPSTREAM_FILE} changes`,
    "set -u",
    `file=${UPSTREAM_FILE}`,
    "seen=/run/pirack-cdn/upstream.sha256",
    'new=$(sha256sum "$file" | cut -d" " -f1) || exit 1',
    '[ "$new" = "$(cat "$seen" 2>/dev/null)" ] && exit 0',
    "mkdir -p /run/pirack-cdn",
    // Not running yet: nginx reads the current file when it starts.
    'if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then',
    '  /usr/sbin/nginx -t -q || { echo "pirack-cdn-reload: nginx -t refused $file" >&2; exit 1; }',
    "  /usr/sbin/nginx -s reload || exit 1",
    "fi",
    'echo "$new" > "$seen"',
    "",
  ].join("\n");
}

/** The reload timer and its service. */
export function renderReloadUnits(ctx: RenderContext): { service: string; timer: string } {
  return {
    service: [
      `${GENERATED}: reload nginx on ${ctx.node.name} when pirack rewrote the upstream file`,
      "[Unit]",
      "Description=Reload the CDN's nginx when pirack changed its upstreams",
      "After=nginx.service",
      "",
      "[Service]",
      "Type=oneshot",
      `ExecStart=${RELOAD_SCRIPT}`,
      "",
    ].join("\n"),
    timer: [
      `${GENERATED}: checks the upstream file every second on ${ctx.node.name}`,
      "[Unit]",
      "Description=Check the CDN's upstream file every second (pirack)",
      "",
      "[Timer]",
      "OnBootSec=5s",
      "OnUnitActiveSec=1s",
      "AccuracySec=100ms",
      "",
      "[Install]",
      "WantedBy=timers.target",
      "",
    ].join("\n"),
  };
}

/** Every file of a CDN Pi. */
export function renderCdnFiles(ctx: RenderContext): RenderedFile[] {
  const units = renderReloadUnits(ctx);
  return [
    { path: "etc/nginx/nginx.conf", content: renderCdnNginx(ctx), mode: 0o644 },
    { path: UPSTREAM_FILE.slice(1), content: renderUpstream(configuredMembers(ctx)), mode: 0o644 },
    { path: RELOAD_SCRIPT.slice(1), content: renderReloadScript(ctx), mode: 0o755 },
    { path: "etc/systemd/system/pirack-cdn-reload.service", content: units.service, mode: 0o644 },
    { path: "etc/systemd/system/pirack-cdn-reload.timer", content: units.timer, mode: 0o644 },
    // The cache lives in RAM: the root is NFS, and a cache is worth nothing after a reboot anyway.
    { path: "etc/systemd/system/var-cache-pirack.mount", content: renderCacheMount(ctx), mode: 0o644 },
  ];
}

/** tmpfs for the page cache, sized from `workloads.cdn.cacheMb` plus room for nginx's temporary files. */
export function renderCacheMount(ctx: RenderContext): string {
  return [
    `${GENERATED}: page cache of the CDN on ${ctx.node.name} in RAM`,
    "[Unit]",
    "Description=CDN page cache in RAM (pirack)",
    "Before=nginx.service",
    "",
    "[Mount]",
    "What=tmpfs",
    "Where=/var/cache/pirack",
    "Type=tmpfs",
    `Options=mode=0700,uid=www-data,gid=www-data,size=${Math.ceil(ctx.workloads.cdn.cacheMb * 1.25)}m`,
    "",
    "[Install]",
    "WantedBy=local-fs.target",
    "",
  ].join("\n");
}
