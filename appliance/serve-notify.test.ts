/**
 * `pirack serve` speaks systemd's readiness protocol: with NOTIFY_SOCKET pointing at a real AF_UNIX datagram
 * receiver (socat), it sends READY=1 with a STATUS= summary after the first pass, and WATCHDOG=1 pings at half of
 * WATCHDOG_USEC.
 */
import { afterEach, describe, expect, it } from "vitest";
import { execa, type ResultPromise } from "execa";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/support/free-port.ts";

const pirack = new URL("../bin/pirack.mjs", import.meta.url).pathname;
const hasSocat = (await execa("socat", ["-V"], { reject: false })).exitCode === 0;
const children: ResultPromise[] = [];
let dir: string | undefined;

afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill("SIGKILL");
    await c.catch(() => undefined);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!hasSocat && !process.env.CI)("serve and systemd", () => {
  it("sends READY=1 and STATUS= after the first pass, then watchdog pings", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-notify-"));
    const socket = join(dir, "notify.sock");
    const rx = execa("socat", ["-u", `UNIX-RECV:${socket}`, "STDOUT"], { reject: false, buffer: false });
    children.push(rx);
    let got = "";
    rx.stdout!.on("data", (d: Buffer) => (got += d.toString()));
    for (let i = 0; i < 200 && !(await stat(socket).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 25));
    const config = join(dir, "rack.yaml");
    await writeFile(
      config,
      `storage: { network: 10.46.189.0/24 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
fileserver: { manageInterfaces: false }
nfs: { server: none }
`,
    );
    const serve = execa(
      "node",
      [pirack, "serve", "--config", config, "--sysroot", join(dir, "sysroot"), "--listen", `127.0.0.1:${await freePort()}`, "--dhcp-port", String(await freePort()), "--tftp-listen", `127.0.0.1:${await freePort()}`],
      { reject: false, env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: "2000000" } },
    );
    children.push(serve);
    const deadline = Date.now() + 60_000;
    while (!/WATCHDOG=1[\s\S]*WATCHDOG=1/.test(got) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(got).toContain("READY=1\nSTATUS=2 Pis: 2 unseen");
    expect((got.match(/WATCHDOG=1/g) ?? []).length).toBeGreaterThanOrEqual(2);
    serve.kill("SIGTERM");
    expect((await serve).exitCode).toBe(0);
  }, 90_000);
});
