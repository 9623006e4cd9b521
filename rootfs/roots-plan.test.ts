import { describe, expect, it } from "vitest";
import { renderRootFiles } from "./render.ts";
import { describeRootAction, planRoots, type ObservedRoot, type RootAction } from "./roots-plan.ts";
import type { PiRootSpec } from "./types.ts";

const pi = (port: number, hostname = `pi0${port}`): PiRootSpec => ({
  port,
  name: hostname,
  hostname,
  piAddress: `10.46.189.${4 * port - 2}`,
  serverAddress: `10.46.189.${4 * port - 3}`,
  netmask: "255.255.255.252",
  publicVlan: 131,
  publicAddress: `2a00:1098:0:84:1000:1::${port + 1}`,
  publicGateway: "2a00:1098:0:84::1",
  exportPath: `/export/10.46.189.${4 * port - 2}`,
});

const inSync = (spec: PiRootSpec): ObservedRoot => ({
  port: spec.port,
  exportPath: spec.exportPath,
  exists: true,
  files: Object.fromEntries(renderRootFiles(spec).map((f) => [f.path, f.text])),
  hasHostKeys: true,
  hasMachineId: true,
  staleTemps: [],
});

describe("planRoots", () => {
  const cases: Record<string, { desired: PiRootSpec[]; observed: ObservedRoot[]; expected: string[] }> = {
    "new Pi": { desired: [pi(1)], observed: [], expected: ["createRoot"] },
    "in sync": { desired: [pi(1)], observed: [inSync(pi(1))], expected: [] },
    "renamed Pi": { desired: [pi(1, "web1")], observed: [inSync(pi(1))], expected: ["writeRootFile:etc/hostname", "writeRootFile:etc/hosts"] },
    "identity lost": { desired: [pi(1)], observed: [{ ...inSync(pi(1)), hasHostKeys: false, hasMachineId: false }], expected: ["generateHostKeys", "writeMachineId"] },
    "interrupted clone": {
      desired: [pi(1)],
      observed: [{ ...inSync(pi(1)), exists: false, files: {}, hasHostKeys: false, hasMachineId: false, staleTemps: ["/export/.pirack/tmp/10.46.189.2.x"] }],
      expected: ["removeStaleTemp", "createRoot"],
    },
    "Pi no longer desired: its root is kept": { desired: [], observed: [inSync(pi(1))], expected: [] },
    "new web Pi whose layer is not built: reported, not cloned from golden": {
      desired: [{ ...pi(1), imagePath: "/srv/images/bookworm-arm64+web", layer: "web" }],
      observed: [{ ...inSync(pi(1)), exists: false, files: {}, hasHostKeys: false, hasMachineId: false, imageMissing: true }],
      expected: ["imageMissing"],
    },
    "new web Pi whose layer is built": {
      desired: [{ ...pi(1), imagePath: "/srv/images/bookworm-arm64+web", layer: "web" }],
      observed: [{ ...inSync(pi(1)), exists: false, files: {}, hasHostKeys: false, hasMachineId: false }],
      expected: ["createRoot"],
    },
    "web root in place from its layer": { desired: [{ ...pi(1), layer: "web" }], observed: [{ ...inSync(pi(1)), layer: "web" }], expected: [] },
    "role changed none -> web: rebuild needed, the root kept in order meanwhile": {
      desired: [{ ...pi(1, "web1"), layer: "web" }],
      observed: [inSync(pi(1))],
      expected: ["rebuildNeeded", "writeRootFile:etc/hostname", "writeRootFile:etc/hosts"],
    },
    "role changed web -> db": { desired: [{ ...pi(1), layer: "db" }], observed: [{ ...inSync(pi(1)), layer: "web" }], expected: ["rebuildNeeded"] },
    "role changed web -> none": { desired: [pi(1)], observed: [{ ...inSync(pi(1)), layer: "web" }], expected: ["rebuildNeeded"] },
    "several Pis in port order, temporaries first": {
      desired: [pi(3), pi(1)],
      observed: [{ ...inSync(pi(3)), staleTemps: ["/t"] }],
      expected: ["removeStaleTemp", "createRoot"],
    },
  };
  it.each(Object.entries(cases))("%s", (_n, { desired, observed, expected }) => {
    const actions = planRoots(desired, observed);
    expect(actions.map((a) => (a.kind === "writeRootFile" ? `${a.kind}:${a.file.path}` : a.kind))).toEqual(expected);
    for (const a of actions) expect(describeRootAction(a)).toMatch(/^port \d+: /);
  });

  it("converges from any state in one pass against a world that rejects duplicate creates", () => {
    const world = new Map<string, ObservedRoot>();
    const apply = (a: RootAction, specs: Map<number, PiRootSpec>) => {
      const spec = specs.get(a.port);
      if (!spec) throw new Error(`action for unknown port ${a.port}`);
      const cur = world.get(spec.exportPath);
      switch (a.kind) {
        case "createRoot":
          if (cur?.exists) throw new Error(`duplicate create of ${a.path}`);
          world.set(spec.exportPath, { ...inSync(spec), staleTemps: cur?.staleTemps ?? [] });
          break;
        case "removeStaleTemp":
          if (!cur?.staleTemps.includes(a.path)) throw new Error(`removing missing temp ${a.path}`);
          world.set(spec.exportPath, { ...cur, staleTemps: cur.staleTemps.filter((t) => t !== a.path) });
          break;
        case "writeRootFile":
          if (!cur?.exists) throw new Error("write into a missing root");
          world.set(spec.exportPath, { ...cur, files: { ...cur.files, [a.file.path]: a.file.text } });
          break;
        case "generateHostKeys":
          if (!cur?.exists || cur.hasHostKeys) throw new Error("needless host keys");
          world.set(spec.exportPath, { ...cur, hasHostKeys: true });
          break;
        case "writeMachineId":
          if (!cur?.exists || cur.hasMachineId) throw new Error("needless machine-id");
          world.set(spec.exportPath, { ...cur, hasMachineId: true });
          break;
        case "imageMissing":
        case "rebuildNeeded":
          throw new Error(`${a.kind} in a world where every image exists and no role changes`);
      }
    };
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let step = 0; step < 300; step++) {
      // Disturb the world as crashes and edits would, then plan towards a random desired set.
      for (const o of world.values()) {
        if (rnd() < 0.1) world.set(o.exportPath, { ...o, hasHostKeys: false });
        if (rnd() < 0.1) world.set(o.exportPath, { ...o, files: { ...o.files, "etc/hosts": "edited\n" } });
      }
      if (rnd() < 0.2) {
        const port = 1 + Math.floor(rnd() * 6);
        const p = pi(port).exportPath;
        if (!world.get(p)?.exists) world.set(p, { ...inSync(pi(port)), exists: false, files: {}, staleTemps: [`/tmp-${step}`] });
      }
      const desired = [1, 2, 3, 4, 5, 6].filter(() => rnd() < 0.5).map((n) => pi(n, rnd() < 0.2 ? `web${n}` : `pi0${n}`));
      const specs = new Map(desired.map((d) => [d.port, d]));
      for (const a of planRoots(desired, [...world.values()])) apply(a, specs);
      expect(planRoots(desired, [...world.values()])).toEqual([]);
    }
  });
});
