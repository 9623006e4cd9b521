import { describe, expect, it } from "vitest";
import { configuredMembers, renderUpstream, UPSTREAM_FILE } from "./cdn/render.ts";
import { defaultWorkloads } from "./config.ts";
import { drainedIn, withRuntimeState } from "./desired-files.ts";
import type { Cluster, RoleNode } from "./role.ts";

const node = (port: number, role: RoleNode["role"]): RoleNode => ({
  name: `pi0${port}`,
  port,
  role,
  publicAddress: `2a00:1098:0:84:1000:1::${port + 1}`,
  storageAddress: `10.46.189.${4 * port - 2}`,
  serverAddress: `10.46.189.${4 * port - 3}`,
});
const cluster: Cluster = { exportsDir: "/export", nodes: [node(1, "cdn"), node(2, "web"), node(3, "web")] };

describe("the CDN upstream file across a reconcile pass", () => {
  const workloads = { ...defaultWorkloads(), cdn: { ...defaultWorkloads().cdn, weights: { pi02: 1, pi03: 11 } } };
  const fresh = renderUpstream(configuredMembers({ cluster, workloads }));
  const file = { path: UPSTREAM_FILE.slice(1), content: fresh, mode: 0o644 };

  it("reads the drains the controller wrote", () => {
    const drainedText = renderUpstream(configuredMembers({ cluster, workloads }).map((m) => (m.name === "pi03" ? { ...m, drained: true, reason: "503 in 4 ms" } : m)));
    expect([...drainedIn(drainedText)]).toEqual([["pi03", "503 in 4 ms"]]);
    expect(drainedIn(fresh).size).toBe(0);
    expect(drainedIn(undefined).size).toBe(0);
  });

  it("a weight change keeps a drained web Pi drained; with no drain the render is the config's", () => {
    const before = { ...workloads, cdn: { ...workloads.cdn, weights: { pi02: 1, pi03: 1 } } };
    const controllerWrote = renderUpstream(configuredMembers({ cluster, workloads: before }).map((m) => (m.name === "pi02" ? { ...m, drained: true, reason: "timeout" } : m)));
    const [out] = withRuntimeState(cluster.nodes[0]!, [file], { cluster, workloads }, controllerWrote);
    expect(out?.content).toMatch(/server \[2a00:1098:0:84:1000:1::3\]:80 weight=1 .* down; # pi02 \(drained: timeout\)/);
    expect(out?.content).toMatch(/server \[2a00:1098:0:84:1000:1::4\]:80 weight=11 max_fails=1 fail_timeout=5s; # pi03\n/);
    expect(withRuntimeState(cluster.nodes[0]!, [file], { cluster, workloads }, fresh)[0]?.content).toBe(fresh);
    expect(withRuntimeState(cluster.nodes[1]!, [file], { cluster, workloads }, controllerWrote)[0]?.content).toBe(fresh);
  });
});
