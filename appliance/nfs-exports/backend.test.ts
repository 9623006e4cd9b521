import { describe, expect, it } from "vitest";
import { createExportsBackend, type NfsServerKind } from "./backend.ts";

const deps = { log: { info: () => undefined, warn: () => undefined, debug: () => undefined }, run: async () => ({ exitCode: 0, stdout: "", stderr: "" }) };

describe("createExportsBackend", () => {
  const cases: Record<NfsServerKind, string | undefined> = { kernel: "kernel", ganesha: "ganesha", none: undefined };
  it.each(Object.entries(cases))("nfs.server %s", (kind, expected) => {
    expect(createExportsBackend(kind as NfsServerKind, { sysroot: "/tmp/x" }, deps)?.kind).toBe(expected);
  });
});
