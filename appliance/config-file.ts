/**
 * Reading `rack.yaml` from disk (the I/O half of config.ts). The file is checked before it is read (a regular
 * file of at most MAX_CONFIG_BYTES) and read through a bounded reader, so a symlink to /dev/zero, a FIFO or a
 * file that grows while being read never reads past the limit. The daemon parses off its event loop (a worker
 * thread with a time limit), so even the slowest document the limit allows cannot stall DHCP or TFTP.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import { parseConfigText, reviveConfig, type ConfigResult } from "./config.ts";

/** Largest config accepted: a 96-port rack with every option set is under 20 KiB, so this is far beyond any rack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Longest a worker may take to parse and validate a config before it is stopped and the file rejected. */
export const PARSE_TIMEOUT_MS = 10_000;

/** What an `fstat` result names itself as in a problem. */
function kindOf(s: { isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (s.isDirectory()) return "a directory";
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  if (s.isFIFO()) return "a FIFO";
  if (s.isSocket()) return "a socket";
  return "not a regular file";
}

/** Reads a config's text, or the one problem that keeps it from being read. */
export async function readConfigText(path: string, maxBytes = MAX_CONFIG_BYTES): Promise<{ ok: true; text: string } | { ok: false; problems: string[] }> {
  const problem = (what: string) => ({ ok: false as const, problems: [`${path}: ${what}`] });
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a regular file.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return problem(`cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) return problem(`is ${kindOf(s)}, not a regular file`);
    if (s.size > maxBytes) return problem(`is ${s.size} bytes, above the ${maxBytes}-byte limit for a config`);
    // Bounded read: one byte more than the limit tells a file that grew after the stat.
    const buf = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) return problem(`grew past the ${maxBytes}-byte limit for a config while being read`);
    }
    return { ok: true, text: buf.subarray(0, length).toString("utf8") };
  } catch (err) {
    return problem(`cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  } finally {
    await handle.close();
  }
}

/** Reads and validates a config file on this thread (the CLI); an unreadable file is one problem like any other. */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  const read = await readConfigText(path);
  return read.ok ? parseConfigText(read.text) : read;
}

/**
 * Reads a config file and parses it in a worker thread (the daemon): the event loop only reads at most
 * MAX_CONFIG_BYTES; a parse that takes longer than `timeoutMs` is stopped and reported as a problem.
 */
export async function loadConfigFileOffThread(path: string, timeoutMs = PARSE_TIMEOUT_MS): Promise<ConfigResult> {
  const read = await readConfigText(path);
  if (!read.ok) return read;
  const worker = new Worker(new URL("./config-worker.mjs", import.meta.url));
  return new Promise<ConfigResult>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: ConfigResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(result.ok ? { ok: true, config: reviveConfig(result.config) } : result);
    };
    worker.on("message", (msg: "ready" | ConfigResult) => {
      if (msg !== "ready") return finish(msg);
      // The limit runs from here: a slow start of the thread on a busy machine is not the file's fault.
      timer = setTimeout(
        () => finish({ ok: false, problems: [`${path}: took longer than ${timeoutMs} ms to parse and validate; not a rack config`] }),
        timeoutMs,
      );
      worker.postMessage(read.text);
    });
    worker.once("error", (err) => finish({ ok: false, problems: [`${path}: parser failed (${err.message})`] }));
    worker.once("exit", (code) => finish({ ok: false, problems: [`${path}: parser exited with code ${code} before answering`] }));
  });
}
