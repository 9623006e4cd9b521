/** Public surface of the db role. */
export { dbRole, probeDb } from "./role.ts";
export { decodeDbHealth, describeDbHealth, isReplicating, type DbHealth, type DbHealthUp } from "./health.ts";
export { debianLayout, layoutFiles, layoutUnder, type DbLayout } from "./layout.ts";
export { renderDbFiles } from "./render.ts";
export { dbProxyConfigPath, renderDbProxyConfig, renderWebDbProxy, type DbProxyValues } from "./render-proxy.ts";
export { DbAccount, DbSecret, dbValues, primaryDbName, type DbNodeValues } from "./values.ts";
