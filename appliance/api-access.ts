/**
 * Deciding at start-up how the API is protected: a loopback listener is open to local tools; any other address
 * needs a token file (`--token-file`, or `api.tokenFile` in rack.yaml). Also warns when a file holding secrets
 * (the token file, rack.yaml with its SNMP community or v3 keys) can be read by other users.
 */
import { readFile, stat } from "node:fs/promises";
import type { Logger } from "pino";
import { isLoopbackHost, parseTokenFile, type TokenTable } from "./api-auth.ts";

/** The protection of the TCP listener, or why the appliance must not start. */
export type ApiAccess = { ok: true; tokens: TokenTable | undefined } | { ok: false; problems: string[] };

/** Reads the token file when one is named; refuses a non-loopback listener without one. */
export async function resolveApiAccess(listenHost: string, tokenFile: string | undefined, log: Logger): Promise<ApiAccess> {
  const loopback = isLoopbackHost(listenHost);
  if (!tokenFile) {
    if (loopback) return { ok: true, tokens: undefined };
    return {
      ok: false,
      problems: [
        `--listen ${listenHost} is reachable from other machines: give a token file (--token-file F or api.tokenFile in rack.yaml; lines "read <token>" / "write <token>"), or listen on 127.0.0.1`,
      ],
    };
  }
  let text: string;
  try {
    text = await readFile(tokenFile, "utf8");
  } catch (err) {
    return { ok: false, problems: [`${tokenFile}: cannot read the token file (${(err as NodeJS.ErrnoException).code ?? String(err)})`] };
  }
  await warnIfReadableByOthers(tokenFile, "token file", log);
  const parsed = parseTokenFile(text, tokenFile);
  if (!parsed.ok) return { ok: false, problems: parsed.problems };
  if (loopback) {
    // Local root tools keep working without a token; the file matters once the API listens elsewhere.
    log.info({ listen: listenHost, tokenFile }, "api on loopback: tokens are not required there");
    return { ok: true, tokens: undefined };
  }
  return { ok: true, tokens: parsed.table };
}

/** Logs a warning when `path` can be read by users other than its owner and group. Returns whether it warned. */
export async function warnIfReadableByOthers(path: string, what: string, log: Logger): Promise<boolean> {
  const s = await stat(path).catch(() => undefined);
  if (!s || (s.mode & 0o004) === 0) return false;
  log.warn({ file: path, mode: (s.mode & 0o777).toString(8) }, `${what} is readable by other users; it holds secrets: chmod o-r ${path}`);
  return true;
}
