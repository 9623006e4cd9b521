/** HTTP health probing shared by the roles: one GET with a time limit, never throwing. */

/** What one probe saw: the status (0 when no answer), elapsed time and a one-line reason. */
export interface ProbeResult {
  readonly status: number;
  readonly elapsedMs: number;
  readonly detail: string;
  readonly body: string;
}

/** GETs `url` with `headers`, giving up after `timeoutMs`; connection errors become status 0 with the reason. */
export async function probeHttp(fetchFn: typeof fetch, url: string, opts: { timeoutMs: number; headers?: Record<string, string>; now?: () => number }): Promise<ProbeResult> {
  const now = opts.now ?? Date.now;
  const started = now();
  try {
    const res = await fetchFn(url, { headers: opts.headers ?? {}, signal: AbortSignal.timeout(opts.timeoutMs), redirect: "manual" });
    const body = (await res.text()).slice(0, 500);
    const elapsedMs = now() - started;
    return { status: res.status, elapsedMs, detail: `${res.status} in ${elapsedMs} ms`, body };
  } catch (err) {
    const elapsedMs = now() - started;
    const e = err as Error & { cause?: { code?: string } };
    const reason = e.name === "TimeoutError" ? `no answer in ${opts.timeoutMs} ms` : (e.cause?.code ?? e.message);
    return { status: 0, elapsedMs, detail: reason, body: "" };
  }
}

/** `http://[addr]:port` for an IPv6 address, `http://addr:port` otherwise. */
export const httpBase = (address: string, port = 80): string => (address.includes(":") ? `http://[${address}]:${port}` : `http://${address}:${port}`);
