/**
 * The bench's way to pirack's API (adapter): a forwarder inside the fileserver namespace exposes the API on a
 * unix socket of the run directory; the bench reads `/api/v1/pis` through it and offers it on a loopback TCP
 * address of its own process (the dashboard, `pirack status`, `pirack power cycle 3`).
 */
import { request } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { spawnIn, type Child } from "./netns.ts";
import { nodeTs } from "./node-ts.ts";
import type { ApiPi } from "./progress.ts";

/** The API forwarder and the loopback listener. */
export class ApiLink {
  private child: Child | undefined;
  private server: Server | undefined;
  private readonly open = new Set<Socket>();

  constructor(
    private readonly ns: string,
    readonly socketPath: string,
  ) {}

  /** Starts the forwarder in the fileserver namespace (to serve's --listen there). */
  async start(apiInNamespace: string, timeoutMs = 60_000): Promise<void> {
    const { cmd, args } = nodeTs("bench/rack/api-forward-main.ts", ["--unix", this.socketPath, "--to", apiInNamespace]);
    const child = spawnIn(this.ns, cmd, args, { stdout: "pipe" });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the API forwarder did not listen within ${timeoutMs} ms`)), timeoutMs);
      void child.exited.then(() => reject(new Error("the API forwarder exited")));
      createInterface({ input: child.process.stdout! }).on("line", (line) => {
        if (line.includes('"listening"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** GET a JSON path of the API; throws when it does not answer 200. */
  get(path: string, timeoutMs = 10_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path, method: "GET", timeout: timeoutMs, headers: { host: "127.0.0.1" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${String(res.statusCode)}: ${text.slice(0, 200)}`));
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(new Error(`GET ${path}: not JSON: ${text.slice(0, 200)}`, { cause: err }));
          }
        });
      });
      req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end();
    });
  }

  /** The API's per-Pi rows. */
  async pis(): Promise<ApiPi[]> {
    return (await this.get("/api/v1/pis")) as ApiPi[];
  }

  /** Listens on `host:port` of the bench's own process and forwards each connection to the API. */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = createServer((client) => {
      this.open.add(client);
      client.on("close", () => this.open.delete(client));
      const upstream = connect(this.socketPath);
      client.pipe(upstream).pipe(client);
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    const a = server.address();
    return { host, port: typeof a === "object" && a ? a.port : port };
  }

  /** Stops the listener and the forwarder. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    for (const s of this.open) s.destroy();
    await closed;
    this.child?.kill("SIGKILL");
    await this.child?.exited;
  }
}
