import { describe, expect, it } from "vitest";
import { parseConfigText } from "./config.ts";
import { withSysrootPaths } from "./sysroot-paths.ts";

const base = `storage: { network: 10.46.189.0/24 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
`;
const load = (text: string) => {
  const r = parseConfigText(text);
  if (!r.ok) throw new Error(r.problems.join("; "));
  return r.config;
};

describe("withSysrootPaths", () => {
  it("moves defaulted paths under the sysroot and keeps the ones rack.yaml names", () => {
    const text = `${base}paths: { state: /var/tmp/mine/state }\n`;
    expect(withSysrootPaths(load(text), text, "/tmp/sys").paths).toEqual({ exports: "/tmp/sys/export", images: "/tmp/sys/srv/pirack/images", state: "/var/tmp/mine/state" });
  });

  it("changes nothing on the real system", () => {
    const c = load(base);
    expect(withSysrootPaths(c, base, "/")).toBe(c);
    expect(c.paths.exports).toBe("/export");
  });
});
