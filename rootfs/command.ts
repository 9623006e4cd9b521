/** The production program runner: execa, no shell, never throws on exit code, streams lines to a callback. */
import { execa } from "execa";
import type { CommandRunner, RunOptions } from "./types.ts";

/** Creates a `CommandRunner` backed by execa. */
export function createCommandRunner(): CommandRunner {
  return async (file: string, args: readonly string[], opts: RunOptions = {}) => {
    const child = execa(file, args, {
      reject: false,
      stdin: "ignore",
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
      ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
      ...(opts.onLine ? { lines: false } : {}),
    });
    if (opts.onLine) {
      const onLine = opts.onLine;
      for (const [stream, name] of [
        [child.stdout, "stdout"],
        [child.stderr, "stderr"],
      ] as const) {
        let pending = "";
        stream?.on("data", (chunk: Buffer) => {
          const parts = (pending + chunk.toString("utf8")).split("\n");
          pending = parts.pop() ?? "";
          for (const line of parts) onLine(line, name);
        });
      }
    }
    const r = await child;
    return {
      exitCode: r.exitCode ?? (r.signal ? 128 : 1),
      stdout: typeof r.stdout === "string" ? r.stdout : "",
      stderr: typeof r.stderr === "string" ? r.stderr : "",
    };
  };
}
