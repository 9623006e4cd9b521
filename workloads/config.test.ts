import { describe, expect, it } from "vitest";
import { validateConfig } from "../appliance/config.ts";

const base = {
  storage: { network: "10.46.189.0/24" },
  public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
  ports: "1-6",
};
const problems = (over: Record<string, unknown>): string[] => {
  const r = validateConfig({ ...base, ...over });
  return r.ok ? [] : r.problems;
};

describe("workloads: config", () => {
  it("fills every default when the section is absent", () => {
    const r = validateConfig(base);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.workloads).toEqual({
      site: { name: "www", url: "https://www.example.org", title: "pirack" },
      db: {
        name: "wordpress",
        user: "wordpress",
        port: 3306,
        replicationUser: "pirack_repl",
        bufferPoolMb: 256,
        healthPort: 8306,
        maxLagSeconds: 5,
        failover: { enabled: true, intervalMs: 500, timeoutMs: 1000, fails: 2, catchUpMs: 10_000, replicaFails: 6, autoRejoin: false },
      },
      web: { phpWorkers: 4, maxUploadMb: 64, requestTimeoutSeconds: 60 },
      cdn: { cacheSeconds: 60, cacheMb: 128, weights: {}, health: { intervalMs: 1000, timeoutMs: 1000, fails: 2, rises: 2 } },
    });
  });

  it.each([
    ["a site URL with a path", { workloads: { site: { url: "https://www.example.org/blog" } } }, "workloads.site.url: must be an http(s) URL with no path, e.g. https://www.example.org"],
    ["a DB name SQL would need quoting for", { workloads: { db: { name: "word-press" } } }, "workloads.db.name: must be 1-32 characters of a-z, A-Z, 0-9 and '_', not starting with a digit"],
    ["a cache time of zero", { workloads: { cdn: { cacheSeconds: 0 } } }, "workloads.cdn.cacheSeconds: Too small: expected number to be >=1"],
    ["an unknown key", { workloads: { cdn: { ttl: 60 } } }, "workloads.cdn.ttl: unknown key (expected one of cacheSeconds, cacheMb, weights, health)"],
    ["a weight for a Pi that is not a web Pi", { pis: [{ port: 1, name: "a", role: "web" }, { port: 2, name: "b", role: "db" }], workloads: { cdn: { weights: { b: 3 } } } }, "workloads.cdn.weights.b: not a web Pi (web Pis: a)"],
    ["a primary that is not a web Pi", { pis: [{ port: 1, name: "a", role: "web" }], workloads: { web: { primary: "zz" } } }, "workloads.web.primary: zz is not a web Pi (web Pis: a)"],
    ["a cdn with no web Pi", { pis: [{ port: 1, role: "cdn" }] }, "pis[0].role: a cdn Pi needs at least one web Pi to balance over (no Pi has role web)"],
    ["every web Pi at weight 0", { pis: [{ port: 1, name: "a", role: "web" }, { port: 2, name: "b", role: "web" }], workloads: { cdn: { weights: { a: 0, b: 0 } } } }, "workloads.cdn.weights: every web Pi has weight 0; the CDN would have no upstream"],
    ["an unknown role", { pis: [{ port: 1, role: "mail" }] }, 'pis[0].role: Invalid option: expected one of "web"|"db"|"cdn"|"none"'],
  ])("rejects %s", (_name, over, problem) => {
    expect(problems(over)).toContain(problem);
  });

  it("names unnamed Pis as the plan does (<shelf>-<port>) in weights", () => {
    expect(problems({ shelf: "hex-a", pis: [{ port: 2, role: "web" }, { port: 3, role: "web" }], workloads: { cdn: { weights: { "hex-a-02": 1, "hex-a-03": 11 } } } })).toEqual([]);
  });

  it("lists every problem at once, across sections", () => {
    const p = problems({ shelf: "Bad!", pis: [{ port: 1, role: "cdn" }], workloads: { site: { url: "ftp://x" }, cdn: { weights: { nope: 1 } } } });
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^shelf: /),
        expect.stringMatching(/^workloads\.site\.url: /),
        expect.stringMatching(/^pis\[0\]\.role: a cdn Pi needs/),
        expect.stringMatching(/^workloads\.cdn\.weights\.nope: not a web Pi/),
      ]),
    );
  });
});
