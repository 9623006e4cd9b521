import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseConfigText } from "./config.ts";
import { isDocumentationAddress, switchAddressProblem, withoutPlaceholderSwitch } from "./switch-address.ts";

describe("documentation addresses", () => {
  it.each([
    ["192.0.2.10", true],
    ["198.51.100.1", true],
    ["203.0.113.200", true],
    ["2001:db8::1", true],
    ["192.0.3.1", false],
    ["10.0.0.2", false],
    ["127.0.0.1", false],
    ["switch.example", false],
  ])("%s", (host, doc) => expect(isDocumentationAddress(host)).toBe(doc));

  it("keeps serve and the CLI away from the seed rack's placeholder switch, saying what to edit", () => {
    const seed = parseConfigText(readFileSync(new URL("../examples/seed-rack.yaml", import.meta.url), "utf8"));
    if (!seed.ok) throw new Error(seed.problems.join("; "));
    expect(switchAddressProblem(seed.config)).toMatch(/^switch\.host 192\.0\.2\.10 is a documentation address .*set switch\.host in rack\.yaml/);
    expect(withoutPlaceholderSwitch(seed.config).switch.driver).toBe("none");
    const real = { ...seed.config, switch: { ...seed.config.switch, host: "10.0.0.2" } };
    expect(withoutPlaceholderSwitch(real)).toBe(real);
  });
});
