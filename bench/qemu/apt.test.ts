import { describe, expect, it } from "vitest";
import { DEBIAN_ARCHIVE, parseHostSources, parseShow, renderArm64Sources } from "./apt.ts";

const hostSources = `Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`;

describe("private arm64 apt sources", () => {
  it("reads the host's mirror and security mirror; Debian's archive when there is no file", () => {
    expect(parseHostSources(hostSources)).toEqual({ main: "http://mirror.example/debian", security: "http://mirror.example/debian-security" });
    expect(parseHostSources("")).toEqual(DEBIAN_ARCHIVE);
  });

  it("asks for arm64 only, with non-free-firmware (raspi-firmware) in every suite", () => {
    const text = renderArm64Sources(parseHostSources(hostSources));
    expect(text).toContain("URIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main non-free-firmware\nArchitectures: arm64\n");
    expect(text).toContain("URIs: http://mirror.example/debian-security\nSuites: bookworm-security\n");
  });

  it("parses apt-cache show: the candidate's version and the first name of each dependency", () => {
    const show = "Package: linux-image-arm64\nVersion: 6.1.192-3\nDepends: linux-image-6.1.0-57-arm64 (= 6.1.192-3), initramfs-tools | linux-initramfs-tool\n";
    expect(parseShow(show)).toEqual({ version: "6.1.192-3", depends: ["linux-image-6.1.0-57-arm64", "initramfs-tools"] });
    expect(parseShow("")).toEqual({ version: undefined, depends: [] });
  });
});
