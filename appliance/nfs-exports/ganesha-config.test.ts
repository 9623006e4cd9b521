import { describe, expect, it } from "vitest";
import { ganeshaExportId, parseGaneshaConfig, parseGaneshaExports, renderGaneshaExportsFile, renderGaneshaMainConfig } from "./ganesha-config.ts";
import type { ExportSpec } from "./types.ts";

const seed: ExportSpec[] = [
  { path: "/export/10.46.189.2", clientAddress: "10.46.189.2" },
  { path: "/export/10.46.189.6", clientAddress: "10.46.189.6" },
];

describe("ganesha EXPORT rendering", () => {
  it("renders the seed rack's exports file (golden)", async () => {
    await expect(renderGaneshaExportsFile(seed)).toMatchFileSnapshot("./golden/pirack-exports.conf");
  });

  it("renders a main config that includes the exports file (golden)", async () => {
    await expect(renderGaneshaMainConfig({ exportsFile: "/etc/ganesha/pirack-exports.conf" })).toMatchFileSnapshot("./golden/ganesha.conf");
  });

  const ids: Record<string, [string, number]> = {
    "Pi 1 of the seed rack": ["10.46.189.2", 189 * 256 + 2],
    "first /30 of a /16": ["10.46.0.2", 2],
    "last /30 of a /16": ["10.46.255.254", 65534],
  };
  it.each(Object.entries(ids))("derives a stable Export_Id for %s", (_n, [address, id]) => {
    expect(ganeshaExportId({ path: "/x", clientAddress: address })).toBe(id);
  });

  it("refuses two Pis whose ids clash (storage network wider than a /16)", () => {
    expect(() =>
      renderGaneshaExportsFile([
        { path: "/export/a", clientAddress: "10.1.0.2" },
        { path: "/export/b", clientAddress: "10.2.0.2" },
      ]),
    ).toThrow(/clash/);
  });

  it("renders a share as one EXPORT with a CLIENT per web Pi, squashed to www-data, with an id no Pi's root can have", () => {
    const share = ["rw", "sync", "no_subtree_check", "all_squash", "anonuid=33", "anongid=33"];
    const text = renderGaneshaExportsFile([
      { path: "/export/10.46.189.2", clientAddress: "10.46.189.2" },
      { path: "/export/shared/www-uploads", clientAddress: "10.46.189.6", options: share },
      { path: "/export/10.46.189.6", clientAddress: "10.46.189.6" },
      { path: "/export/shared/www-uploads", clientAddress: "10.46.189.2", options: share },
    ]);
    const blocks = parseGaneshaConfig(text);
    expect(blocks.map((b) => [b.params["path"], b.params["export_id"]])).toEqual([
      ["/export/10.46.189.2", String(189 * 256 + 2)],
      ["/export/10.46.189.6", String(189 * 256 + 6)],
      ["/export/shared/www-uploads", "65535"],
    ]);
    expect(text).toContain("    CLIENT { Clients = 10.46.189.2; Access_Type = RW; Squash = All_Squash; Anonymous_Uid = 33; Anonymous_Gid = 33; }\n");
    expect(text).toContain("    CLIENT { Clients = 10.46.189.6; Access_Type = RW; Squash = All_Squash; Anonymous_Uid = 33; Anonymous_Gid = 33; }\n");
    expect(parseGaneshaExports(text).filter((e) => e.path.includes("shared")).map((e) => [e.clientAddress, e.options])).toEqual([
      ["10.46.189.2", ["rw", "all_squash"]],
      ["10.46.189.6", ["rw", "all_squash"]],
    ]);
    // With one web Pi the share still gets a share id, never its Pi's root id.
    const one = parseGaneshaConfig(
      renderGaneshaExportsFile([
        { path: "/export/10.46.189.6", clientAddress: "10.46.189.6" },
        { path: "/export/shared/www-uploads", clientAddress: "10.46.189.6", options: share },
      ]),
    );
    expect(one.map((b) => b.params["export_id"])).toEqual([String(189 * 256 + 6), "65535"]);
  });

  const access: Record<string, [string[] | undefined, string[]]> = {
    default: [undefined, ["rw", "no_root_squash"]],
    "read-only": [["ro", "no_root_squash"], ["ro", "no_root_squash"]],
    "root squashed": [["rw"], ["rw", "root_squash"]],
    "all squashed": [["rw", "all_squash"], ["rw", "all_squash"]],
  };
  it.each(Object.entries(access))("maps %s options onto CLIENT and back", (_n, [options, expected]) => {
    const spec: ExportSpec = { path: "/export/10.46.189.2", clientAddress: "10.46.189.2", ...(options ? { options } : {}) };
    expect(parseGaneshaExports(renderGaneshaExportsFile([spec]))).toEqual([{ path: spec.path, clientAddress: spec.clientAddress, options: expected }]);
  });
});

describe("ganesha config parsing", () => {
  it("round-trips the rendered file", () => {
    expect(parseGaneshaExports(renderGaneshaExportsFile(seed)).map((e) => [e.path, e.clientAddress])).toEqual(seed.map((s) => [s.path, s.clientAddress]));
  });

  it("reads the testbed recipe's hand-written block, comments and comma lists included", () => {
    const text = `EXPORT { Export_Id = 10; Path = /srv/x; # comment
      Pseudo = /export/x; Protocols = 3, 4; FSAL { Name = VFS; }
      CLIENT { Clients = 10.46.10.2, 10.46.10.3; Access_Type = RW; } }`;
    const [block] = parseGaneshaConfig(text);
    expect(block?.params["protocols"]).toBe("3, 4");
    expect(parseGaneshaExports(text).map((e) => e.clientAddress)).toEqual(["10.46.10.2", "10.46.10.3"]);
  });

  const broken: Record<string, string> = {
    "unclosed block": "EXPORT { Path = /x;",
    "stray closing brace": "EXPORT { } }",
    "missing equals": "EXPORT { Path /x; }",
    "export without path": "EXPORT { CLIENT { Clients = 10.0.0.2; } }",
  };
  it.each(Object.entries(broken))("throws on %s", (_n, text) => {
    expect(() => parseGaneshaExports(text)).toThrow();
  });
});
