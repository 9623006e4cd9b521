/**
 * Config parsing under the 1 MiB limit: how long parse+validate takes for documents of several shapes, and how
 * long the event loop stalls while it runs, on the thread (the reference: what pirack did before) and in the
 * worker `pirack serve` uses. Prints one line per shape and the ratio of the stalls.
 *   node --import tsx bench/config/run.ts
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigFile, loadConfigFileOffThread, MAX_CONFIG_BYTES } from "../../appliance/config-file.ts";

const example = await readFile(new URL("../../examples/shelf-96.yaml", import.meta.url), "utf8");
const head = `storage: { network: 10.46.189.0/24 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
`;
const fill = (text: string) => text.slice(0, MAX_CONFIG_BYTES);
const shapes: Record<string, string> = {
  "examples/shelf-96.yaml": example,
  "1 MiB comment": fill(`${head}#${"x".repeat(MAX_CONFIG_BYTES)}`),
  "1 MiB unknown key value": fill(`${head}foo: ${"x".repeat(MAX_CONFIG_BYTES)}`).slice(0, -1) + "\n",
  "10,000 unknown keys (97 KB)": `${head}${Array.from({ length: 10_000 }, (_, i) => `k${i}: 1`).join("\n")}\n`,
  "1 MiB flow list": fill(`${head}x: [${"1,".repeat(MAX_CONFIG_BYTES / 2)}`).slice(0, -2) + "]\n",
};

/** Runs `fn` while a 1 ms timer measures the longest gap between its ticks (the event loop's worst stall). */
async function withLag<T>(fn: () => Promise<T>): Promise<{ ms: number; maxLagMs: number; result: T }> {
  let last = performance.now();
  let maxLagMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last);
    last = now;
  }, 1);
  const started = performance.now();
  const result = await fn();
  const ms = performance.now() - started;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  return { ms, maxLagMs: Math.max(maxLagMs, performance.now() - last), result };
}

const dir = await mkdtemp(join(tmpdir(), "pirack-bench-config-"));
try {
  // The machine's own stall with nothing parsing: what a shared, loaded machine adds to every figure below.
  const idle = await withLag(() => new Promise((r) => setTimeout(r, 2000)));
  console.log(`idle event loop over 2 s: worst stall ${idle.maxLagMs.toFixed(1)} ms`);
  console.log("shape | bytes | on-thread parse ms | on-thread stall ms | worker total ms | worker stall ms | stall ratio");
  for (const [name, text] of Object.entries(shapes)) {
    const path = join(dir, "rack.yaml");
    await writeFile(path, text);
    const inline = await withLag(() => loadConfigFile(path));
    const worker = await withLag(() => loadConfigFileOffThread(path, 120_000));
    const outcome = (r: { ok: boolean }) => (r.ok ? "ok" : "rejected");
    if (outcome(inline.result) !== outcome(worker.result)) throw new Error(`${name}: thread and worker disagree`);
    console.log(
      `${name} | ${Buffer.byteLength(text)} | ${inline.ms.toFixed(0)} | ${inline.maxLagMs.toFixed(0)} | ${worker.ms.toFixed(0)} | ${worker.maxLagMs.toFixed(1)} | ${(inline.maxLagMs / worker.maxLagMs).toFixed(0)}x (${outcome(worker.result)})`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
