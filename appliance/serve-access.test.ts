/** `pirack serve` refuses to expose the API off loopback without tokens, and warns about secrets others can read. */
import { afterEach, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const pirack = new URL("../bin/pirack.mjs", import.meta.url).pathname;
let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const rack = `storage: { network: 10.46.189.0/24 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
nfs: { server: none }
`;

describe("serve API access", () => {
  it("will not listen on a non-loopback address without a token file", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-access-"));
    await writeFile(join(dir, "rack.yaml"), rack);
    const r = await execa("node", [pirack, "serve", "--config", join(dir, "rack.yaml"), "--sysroot", dir, "--listen", "0.0.0.0:8067"], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--listen 0.0.0.0 is reachable from other machines: give a token file (--token-file F or api.tokenFile in rack.yaml");
  }, 60_000);

  it("lists a bad token file's problems without printing a token, and warns when others can read it", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-access-"));
    await writeFile(join(dir, "rack.yaml"), rack);
    await writeFile(join(dir, "tokens"), "read abc\nadmin secret-secret-secret\n", { mode: 0o644 });
    const r = await execa("node", [pirack, "serve", "--config", join(dir, "rack.yaml"), "--sysroot", dir, "--listen", "0.0.0.0:8067", "--token-file", join(dir, "tokens")], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${join(dir, "tokens")}:1: token is 3 characters; use at least 16`);
    expect(r.stderr).toContain(`${join(dir, "tokens")}:2: expected "read <token>" or "write <token>"`);
    expect(`${r.stdout}${r.stderr}`).not.toContain("secret-secret");
    const warn = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { msg: string; mode?: string }).find((l) => l.msg.startsWith("token file is readable by other users"));
    expect(warn?.mode).toBe("644");
  }, 60_000);
});
