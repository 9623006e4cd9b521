import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Server } from "node:http";
import { connect } from "node:net";
import pino from "pino";
import { startApi, MAX_BODY_BYTES } from "./api.ts";
import { Appliance } from "./appliance.ts";
import { validateConfig } from "./config.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { systemClock } from "../lib/clock.ts";

const config = (() => {
  const r = validateConfig({
    storage: { network: "10.46.189.0/24" },
    public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
    ports: "1-2",
  });
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.config;
})();

describe("API request bodies", () => {
  let server: Server;
  let base: string;
  const powered: string[] = [];
  beforeEach(async () => {
    const log = pino({ level: "silent" });
    const metrics = new MetricsRegistry();
    const appliance = new Appliance(config, { log, metrics, clock: systemClock, subsystems: () => [] });
    server = await startApi({ log, metrics, appliance, power: async (port, action) => void powered.push(`${port}:${action}`) }, "127.0.0.1", 0);
    const address = server.address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
  });
  afterEach(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));

  const post = async (body: string) => {
    const r = await fetch(`${base}/api/v1/pis/1/power`, { method: "POST", body });
    return { status: r.status, error: ((await r.json()) as { error?: string }).error };
  };

  it("takes a good action", async () => {
    expect((await post('{"action":"cycle"}')).status).toBe(200);
    expect(powered).toContain("1:cycle");
  });

  const cases: Record<string, [string, number, RegExp]> = {
    "not JSON": ["action=cycle", 400, /^request body is not JSON \(.+\); expected JSON such as \{"action":"cycle"\}$/],
    empty: ["", 400, /^request body is empty; expected JSON such as/],
    "JSON of the wrong shape": ['{"action":"explode"}', 400, /^expected \{"action":"on\|off\|cycle"\}, got \{"action":"explode"\}$/],
    "JSON null": ["null", 400, /^expected \{"action":"on\|off\|cycle"\}, got null$/],
    "over the limit": [`{"action":"cycle","pad":"${"x".repeat(MAX_BODY_BYTES)}"}`, 413, /^request body is larger than 16384 bytes$/],
  };
  it.each(Object.entries(cases))("%s: %s", async (_, [body, status, error]) => {
    const r = await post(body);
    expect(r.status).toBe(status);
    expect(r.error).toMatch(error);
  });

  it("answers 413 to a chunked body that never ends, without reading it all", async () => {
    const { port } = server.address() as { port: number };
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      let got = "";
      socket.on("data", (d) => (got += d.toString()));
      socket.on("close", () => resolve(got));
      socket.on("error", reject);
      socket.write("POST /api/v1/pis/1/power HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
      const chunk = `4000\r\n${"x".repeat(0x4000)}\r\n`;
      const pump = () => {
        if (socket.destroyed || got) return;
        socket.write(chunk, () => setImmediate(pump));
      };
      pump();
    });
    expect(reply).toMatch(/^HTTP\/1.1 413 /);
  });
});
