import { describe, expect, it } from "vitest";
import { exportSatisfies, parseExportfsVerbose, parseExportsFile, renderExportsFile, renderExportsLine } from "./exports-file.ts";
import type { ExportSpec } from "./types.ts";

const seed: ExportSpec[] = [
  { path: "/export/10.46.189.6", clientAddress: "10.46.189.6" },
  { path: "/export/10.46.189.2", clientAddress: "10.46.189.2" },
];

describe("exports(5) rendering", () => {
  it("renders the story's line for Pi 1", () => {
    expect(renderExportsLine({ path: "/export/10.46.189.2", clientAddress: "10.46.189.2" })).toBe(
      "/export/10.46.189.2 10.46.189.2(rw,sync,no_subtree_check,no_root_squash)",
    );
  });

  it("renders the seed rack's file (golden)", async () => {
    await expect(renderExportsFile(seed)).toMatchFileSnapshot("./golden/pirack.exports");
  });

  it("renders the same bytes whatever the order of the specs", () => {
    expect(renderExportsFile([...seed].reverse())).toBe(renderExportsFile(seed));
  });

  it("renders an empty file with only the header when no Pi is exported", () => {
    expect(parseExportsFile(renderExportsFile([]))).toEqual([]);
  });

  const bad: Record<string, ExportSpec> = {
    "relative path": { path: "export/x", clientAddress: "10.0.0.2" },
    "blank in path": { path: "/export/a b", clientAddress: "10.0.0.2" },
    "parenthesis in path": { path: "/export/a(rw)", clientAddress: "10.0.0.2" },
    "hostname client": { path: "/export/a", clientAddress: "pi01" },
    "wildcard client": { path: "/export/a", clientAddress: "*" },
    "network client": { path: "/export/a", clientAddress: "10.0.0.0/24" },
    "option with comma": { path: "/export/a", clientAddress: "10.0.0.2", options: ["rw,insecure"] },
  };
  it.each(Object.entries(bad))("refuses %s", (_name, spec) => {
    expect(() => renderExportsLine(spec)).toThrow(/export/);
  });
});

describe("exports(5) parsing", () => {
  it("round-trips a rendered file", () => {
    const parsed = parseExportsFile(renderExportsFile(seed));
    expect(parsed.map((s) => s.path)).toEqual(["/export/10.46.189.2", "/export/10.46.189.6"]);
    expect(parsed[0]?.options).toEqual(["rw", "sync", "no_subtree_check", "no_root_squash"]);
  });

  it("reads several clients, comments and continuation lines", () => {
    const text = "# comment\n/srv/a 10.0.0.2(rw) \\\n  10.0.0.3(ro)\n\n/srv/b 10.0.0.4 # trailing\n";
    expect(parseExportsFile(text)).toEqual([
      { path: "/srv/a", clientAddress: "10.0.0.2", options: ["rw"] },
      { path: "/srv/a", clientAddress: "10.0.0.3", options: ["ro"] },
      { path: "/srv/b", clientAddress: "10.0.0.4", options: [] },
    ]);
  });

  it("throws on a path without clients", () => {
    expect(() => parseExportsFile("/srv/a\n")).toThrow(/line 1/);
  });
});

describe("exportfs -v parsing (nfs-utils 2.6.2 output captured on Debian 12)", () => {
  // Short paths share the line with their client; long ones put clients on the next, tab-indented line.
  const captured = [
    "/tmp/ex5/exp/a\t10.46.189.2(sync,wdelay,hide,no_subtree_check,sec=sys,rw,no_root_squash,no_all_squash)",
    "/tmp/ex5/exp/averyveryverylongpathname_abcdefghijkl",
    "\t\t10.46.189.6(sync,wdelay,hide,no_subtree_check,sec=sys,rw,no_root_squash,no_all_squash)",
    "",
  ].join("\n");

  it("reads both layouts", () => {
    const live = parseExportfsVerbose(captured);
    expect(live.map((e) => [e.path, e.clientAddress])).toEqual([
      ["/tmp/ex5/exp/a", "10.46.189.2"],
      ["/tmp/ex5/exp/averyveryverylongpathname_abcdefghijkl", "10.46.189.6"],
    ]);
  });

  it("treats live exports with extra default options as satisfying the desired ones", () => {
    const [live] = parseExportfsVerbose(captured);
    expect(live && exportSatisfies(live, { path: "/tmp/ex5/exp/a", clientAddress: "10.46.189.2" })).toBe(true);
    expect(live && exportSatisfies(live, { path: "/tmp/ex5/exp/a", clientAddress: "10.46.189.2", options: ["async"] })).toBe(false);
    expect(live && exportSatisfies(live, { path: "/tmp/ex5/exp/a", clientAddress: "10.46.189.6" })).toBe(false);
  });

  it("rejects a client line before any path", () => {
    expect(() => parseExportfsVerbose("\t\t10.0.0.2(rw)\n")).toThrow(/before any path/);
  });

  it("reads empty output as no exports", () => {
    expect(parseExportfsVerbose("")).toEqual([]);
  });
});
