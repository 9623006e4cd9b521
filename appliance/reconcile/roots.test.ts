import { describe, expect, it } from "vitest";
import type { PiRootSpec } from "../../rootfs/index.ts";
import { parseConfigText } from "../config.ts";
import { planRack } from "../plan.ts";
import { describeRootStep, exportChanges, piRootSpecs, rootProblem, toExportSpec } from "./roots.ts";

const spec: PiRootSpec = {
  port: 2,
  name: "pi02",
  hostname: "pi02",
  piAddress: "10.46.189.6",
  serverAddress: "10.46.189.5",
  netmask: "255.255.255.252",
  publicVlan: 131,
  publicAddress: "2a00:1098:0:84:1000:1::3/64",
  publicGateway: "2a00:1098:0:84::1",
  exportPath: "/export/10.46.189.6",
};

describe("root actions in words", () => {
  it("names the Pi by address and port, and the image it is cloned from", () => {
    expect(describeRootStep({ kind: "createRoot", port: 2, path: spec.exportPath }, spec, "bookworm-arm64")).toBe("clone root 10.46.189.6 (port 2) from bookworm-arm64");
    expect(describeRootStep({ kind: "writeRootFile", port: 2, root: spec.exportPath, file: { path: "etc/hostname", text: "pi02\n", mode: 0o644 } }, spec, "x")).toBe(
      "rewrite /etc/hostname in root 10.46.189.6 (port 2)",
    );
    expect(describeRootStep({ kind: "generateHostKeys", port: 2, root: spec.exportPath }, spec, "x")).toBe("generate SSH host keys in root 10.46.189.6 (port 2)");
  });
});

describe("a Pi with a role is cloned from its role layer", () => {
  const web: PiRootSpec = { ...spec, imagePath: "/srv/pirack/images/bookworm-arm64+web", layer: "web" };
  it("names the layer in the per-Pi action", () => {
    expect(describeRootStep({ kind: "createRoot", port: 2, path: spec.exportPath }, web, "bookworm-arm64")).toBe("clone root 10.46.189.6 (port 2) from bookworm-arm64+web");
    expect(describeRootStep({ kind: "imageMissing", port: 2, image: web.imagePath! }, web, "bookworm-arm64")).toBe("clone root 10.46.189.6 (port 2) from bookworm-arm64+web (layer not built)");
    expect(describeRootStep({ kind: "rebuildNeeded", port: 2, root: spec.exportPath, has: undefined, wants: "web" }, web, "bookworm-arm64")).toBe("root 10.46.189.6 (port 2) needs a rebuild from bookworm-arm64+web");
  });
  it("says what to run when the layer is missing, and when the role changed", () => {
    const missing = rootProblem({ kind: "imageMissing", port: 2, image: web.imagePath! }, web, "bookworm-arm64");
    expect(missing.code).toBe("LAYER_NOT_BUILT");
    expect(missing.message).toBe("layer bookworm-arm64+web not built: pirack workloads build web");
    expect(rootProblem({ kind: "imageMissing", port: 2, image: "/srv/x" }, spec, "bookworm-arm64").message).toBe("golden image bookworm-arm64 not built: pirack image build");
    const changed = rootProblem({ kind: "rebuildNeeded", port: 2, root: spec.exportPath, has: undefined, wants: "web" }, web, "bookworm-arm64");
    expect(changed.code).toBe("ROOT_REBUILD_NEEDED");
    expect(changed.message).toBe(
      "rebuild needed: root of port 2 was cloned from the golden image (role none); role web needs bookworm-arm64+web (its packages differ): pirack roots rebuild 2 (the old root is kept aside)",
    );
  });
  it("gives each enrolled Pi its own image: the layer of its role, golden for none; role nodes name the cluster in /etc/hosts", async () => {
    const { readFile } = await import("node:fs/promises");
    const seed = await readFile(new URL("../../examples/seed-rack.yaml", import.meta.url), "utf8");
    const text = seed.replace("ports: 1-2", "ports: 1-3").replace(/^pis:[\s\S]*$/m, "pis:\n  - { port: 1, name: pi01, role: cdn }\n  - { port: 2, name: pi02, role: web }\n");
    const parsed = parseConfigText(text);
    if (!parsed.ok) throw new Error(parsed.problems.join("; "));
    const config = parsed.config;
    const specs = piRootSpecs(planRack(config, new Map([[3, { port: 3, mac: "b8:27:eb:00:00:03" }]])), config);
    expect(specs.map((s) => [s.port, s.imagePath, s.layer])).toEqual([
      [1, `${config.paths.images}/${config.image}+cdn`, "cdn"],
      [2, `${config.paths.images}/${config.image}+web`, "web"],
      [3, undefined, undefined],
    ]);
    expect(specs[0]?.extraHosts).toEqual([{ address: expect.stringMatching(/::3$/), names: ["pi02"] }]);
    expect(specs[2]?.extraHosts).toBeUndefined();
  });
});

describe("export changes per Pi", () => {
  const ports = new Map([
    ["/export/10.46.189.2", 1],
    ["/export/10.46.189.6", 2],
  ]);
  const portOf = (e: { path: string }) => ports.get(e.path);
  it("lists each Pi whose export is added or dropped, and nothing when the file already lists them", () => {
    const one = { path: "/export/10.46.189.2", clientAddress: "10.46.189.2" };
    const two = toExportSpec(spec);
    const observed = { file: [one], fileText: "x", live: [one] };
    expect(exportChanges([two], observed, portOf).map((c) => c.description)).toEqual([
      "export /export/10.46.189.6 to 10.46.189.6 (port 2)",
      "stop exporting /export/10.46.189.2 to 10.46.189.2 (port 1)",
    ]);
    expect(exportChanges([one], observed, portOf)).toEqual([]);
    expect(exportChanges([one], { file: undefined, fileText: undefined, live: undefined }, portOf).map((c) => c.kind)).toEqual(["export"]);
  });
});
