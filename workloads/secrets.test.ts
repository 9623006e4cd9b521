import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { loadOrCreateSecrets, secretsPath } from "./secrets.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pirack-secrets-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("loadOrCreateSecrets", () => {
  it("generates missing secrets once, 0600, and keeps them across calls", async () => {
    const first = await loadOrCreateSecrets(dir, [{ name: "db.sitePassword", bytes: 24 }]);
    expect(first.created).toEqual(["db.sitePassword"]);
    expect(first.secrets["db.sitePassword"]).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect((await stat(secretsPath(dir))).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateSecrets(dir, [{ name: "db.sitePassword", bytes: 24 }, { name: "wp.AUTH_KEY", bytes: 48 }]);
    expect(again.created).toEqual(["wp.AUTH_KEY"]);
    expect(again.secrets["db.sitePassword"]).toBe(first.secrets["db.sitePassword"]);
  });

  it("refuses to replace a damaged file", async () => {
    await mkdir(dirname(secretsPath(dir)), { recursive: true });
    await writeFile(secretsPath(dir), "{not json");
    await expect(loadOrCreateSecrets(dir, [{ name: "a", bytes: 8 }])).rejects.toMatchObject({ code: "SECRETS_INVALID" });
  });
});
