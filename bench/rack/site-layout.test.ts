import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../appliance/config.ts";
import { planRack } from "../../appliance/plan.ts";
import { benchLayout, shapeProblems } from "./layout.ts";
import { ovsPortName, parkingVlan, wiringSettings } from "./ovs-ports.ts";
import { renderBenchRackYaml } from "./rack-config.ts";

const paths = { firmware: "/fw", exports: "/run/export", images: "/cache/images", state: "/run/state", image: "bookworm-arm64" };

describe("bench --site", () => {
  const layout = benchLayout({ pis: 2, qemu: 1, models: ["4"], pid: 4242, site: true });

  it("makes the QEMU Pis web Pis and puts the db and cdn stand-ins on the two ports after the shelf", () => {
    expect(layout.site).toMatchObject({
      url: "http://www.bench.pirack.test",
      host: "www.bench.pirack.test",
      webPorts: [1],
      db: { port: 3, role: "db", name: "bench-db", namespace: "pirack-bench-4242-db", publicAddress: "2a00:1098:0:84:1000:1::4", vlan: 12, serverAddress: "10.46.189.9" },
      cdn: { port: 4, role: "cdn", name: "bench-cdn", namespace: "pirack-bench-4242-cdn", publicAddress: "2a00:1098:0:84:1000:1::5" },
    });
    expect(layout.switch.fileserverPort).toBe(24);
    expect(benchLayout({ pis: 2, qemu: 1, models: ["4"], pid: 1 }).site).toBeUndefined();
  });

  it("refuses a site without a QEMU Pi or without two free switch ports", () => {
    expect(shapeProblems({ pis: 2, qemu: 0, models: ["4"], pid: 1, site: true })).toEqual(["--site needs at least one QEMU Pi (--qemu 1): the web Pis are QEMU Pis"]);
    expect(shapeProblems({ pis: 22, qemu: 1, models: ["4"], pid: 1, site: true })).toEqual(["--site takes the two switch ports after the shelf: --pis must be at most 21, got 22"]);
    expect(shapeProblems({ pis: 21, qemu: 1, models: ["4"], pid: 1, site: true })).toEqual([]);
  });

  it("renders a rack config pirack accepts, whose cluster is the web Pi, the db and the cdn", () => {
    const r = parseConfigText(renderBenchRackYaml(layout, paths));
    if (!r.ok) throw new Error(r.problems.join("\n"));
    expect(r.config.ports).toEqual([1, 2, 3, 4]);
    const cluster = planRack(r.config).workloads.cluster;
    expect(cluster.nodes.map((n) => `${n.port} ${n.name} ${n.role} ${n.publicAddress}`)).toEqual([
      "1 bench-01 web 2a00:1098:0:84:1000:1::2",
      "3 bench-db db 2a00:1098:0:84:1000:1::4",
      "4 bench-cdn cdn 2a00:1098:0:84:1000:1::5",
    ]);
    expect(r.config.workloads).toMatchObject({ site: { url: "http://www.bench.pirack.test" }, web: { phpWorkers: 2, requestTimeoutSeconds: 900 }, db: { failover: { enabled: false, timeoutMs: 5000 } } });
    // Port 2 (a protocol Pi) has no role: it is no part of the site.
    expect(planRack(r.config).ports.find((p) => p.port === 2)?.role).toBe("none");
  });

  it("wires the stand-ins as access ports of the public VLAN; their ports' eth0.N follow the trunk", () => {
    const trunk = { port: 24, pvid: 1, untagged: [1], tagged: [10, 11] };
    const s = wiringSettings([{ port: 1, vlan: 10 }], 24, 131, [trunk], [{ port: 2, vlan: 11, role: "db" }, { port: 3, vlan: 12, role: "cdn" }]);
    expect(s.slice(-5).map((x) => `${x.name}=${x.setting.vlanMode}:${x.setting.tag}`)).toEqual(["pub=access:131", "site-db=access:131", "fs2=access:11", "site-cdn=access:131", `fs3=access:${parkingVlan(5)}`]);
    expect(ovsPortName.standIn("cdn")).toBe("site-cdn");
  });
});
