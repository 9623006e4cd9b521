/** The cdn role: nginx caching load balancer over the web Pis, plus the health controller pirack runs. */
import { packageUnit, pirackUnit, type Health, type ProbeDeps, type Role, type RoleNode } from "../role.ts";
import { httpBase, probeHttp } from "../probe.ts";
import { CDN_HEALTH_PATH, renderCdnFiles } from "./render.ts";

export * from "./render.ts";
export * from "./controller.ts";

/** Probes a CDN Pi's own health path (nginx up, no web Pi involved). */
export async function probeCdn(node: RoleNode, deps: ProbeDeps): Promise<Health> {
  const r = await probeHttp(deps.fetch, `${httpBase(node.publicAddress)}${CDN_HEALTH_PATH}`, { timeoutMs: deps.timeoutMs });
  return { node: node.name, role: "cdn", healthy: r.status === 200, detail: r.detail, data: { status: r.status, elapsedMs: r.elapsedMs } };
}

/** The cdn role. */
export const cdnRole: Role = {
  name: "cdn",
  packages: ["nginx"],
  packageUnits: ["nginx.service"],
  layerRemovals: ["etc/nginx/sites-enabled/default"],
  secrets: [],
  renderPiFiles: renderCdnFiles,
  units: () => [
    packageUnit("nginx.service"),
    pirackUnit("var-cache-pirack.mount", "local-fs.target"),
    pirackUnit("pirack-cdn-reload.timer", "timers.target"),
  ],
  health: probeCdn,
};
