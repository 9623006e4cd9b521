import { describe, expect, it } from "vitest";
import { installedPackageNames, parseDpkgStatus } from "./dpkg-status.ts";

const STATUS = `Package: openssh-server
Status: install ok installed
Priority: optional
Architecture: arm64
Version: 1:9.2p1-2+deb12u5
Description: secure shell (SSH) server
 multi-line description
 .
 more

Package: dhcpcd5
Status: deinstall ok config-files
Architecture: armhf
Version: 1:8.1.2-1+rpt1

Package: ifupdown
Status: install ok half-configured
Version: 0.8.41
`;

describe("dpkg status", () => {
  it("parses packages with their status, skipping continuation lines", () => {
    expect(parseDpkgStatus(STATUS)).toEqual([
      { name: "openssh-server", version: "1:9.2p1-2+deb12u5", architecture: "arm64", status: "install ok installed" },
      { name: "dhcpcd5", version: "1:8.1.2-1+rpt1", architecture: "armhf", status: "deinstall ok config-files" },
      { name: "ifupdown", version: "0.8.41", architecture: "", status: "install ok half-configured" },
    ]);
  });

  it("counts only fully installed packages (removed-with-config and half-configured are not)", () => {
    expect([...installedPackageNames(parseDpkgStatus(STATUS))]).toEqual(["openssh-server"]);
  });

  it("reads an empty file as no packages", () => {
    expect(parseDpkgStatus("")).toEqual([]);
  });
});
