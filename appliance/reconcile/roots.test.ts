import { describe, expect, it } from "vitest";
import type { PiRootSpec } from "../../rootfs/index.ts";
import { describeRootStep, exportChanges, toExportSpec } from "./roots.ts";

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

describe("export changes per Pi", () => {
  const ports = new Map([
    ["/export/10.46.189.2", 1],
    ["/export/10.46.189.6", 2],
  ]);
  const portOf = (p: string) => ports.get(p);
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
