/** Public surface of the workloads module: the roles, the render framework, the layer builder and the controller. */
export { ROLES } from "./registry.ts";

export type { Cluster, Health, ProbeDeps, RenderContext, RenderedFile, Role, RoleName, RoleNode, SecretSpec, Secrets, UnitLink } from "./role.ts";
export { nodesOf, packageUnit, pirackUnit } from "./role.ts";
export { checkWorkloads, defaultWorkloads, primaryWebName, workloadsSchema } from "./config.ts";
export type { WorkloadsConfig } from "./config.ts";
export { clusterHosts, describeRendered, MANIFEST_PATH, placeholderSecrets, renderCluster, renderNode, requiredSecrets, roleImageName } from "./render.ts";
export type { PiRole, RoleRegistry } from "./render.ts";
export { CdnController, nextWebState, probeCdn, renderUpstream, UPSTREAM_FILE } from "./cdn/index.ts";
export { upstreamWriter } from "./cdn/upstream-writer.ts";
export { applyWorkloadFiles, planWorkloadFiles } from "./apply.ts";
export type { ApplyReport, WorkloadFilesPlan } from "./apply.ts";
export { UPSTREAM_PATH, withRuntimeState } from "./desired-files.ts";
export { loadOrCreateSecrets, readSecrets, secretsPath } from "./secrets.ts";
export { probeWeb, uploadsShares, uploadsSharePath, WEB_HEALTH_PATH, WWW_DATA_ID } from "./web/index.ts";
export { probeCluster } from "./status.ts";
export { WorkloadControllers, type WorkloadsDeps, type WorkloadsSpec } from "./controllers.ts";
export { tileWorkloads, workloadProblems, type NodeView, type TileWorkload, type WorkloadsEvent, type WorkloadsProblem, type WorkloadsStatus } from "./controllers-status.ts";
export { fencedPortsOnDisk, failoverFile, failoverStore, readFailoverFile } from "./failover/store.ts";
export { renderReplicaInto, setAsideDatadir } from "./failover/root-adapters.ts";
export { httpProbe, rejoinDb } from "./failover/index.ts";
