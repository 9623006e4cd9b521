/** Public surface of db failover: the controller, its policy, its adapters and rejoin. */
export { DbFailoverController, type DbEvent, type DbFailoverDeps, type DbRecord, type DbStatus, type LastFailover, type PortPower } from "./controller.ts";
export { decideDb, gtidSequence, type DbClusterState, type DbDecision, type FailoverPolicy, type NodePoll } from "./policy.ts";
export { httpProbe, mariadbClient, slaveStatusField, type DbTarget } from "./adapters.ts";
export { rejoinDb, type RejoinDeps, type RejoinResult } from "./rejoin.ts";
