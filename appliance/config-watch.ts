/**
 * Watching `rack.yaml` so that no replacement of the file ends the watch: the file's directory is watched
 * (chokidar, depth 0, symlinks not followed) rather than the file itself, and a slow stat poll backs it up, so
 * a file replaced by a symlink (to /dev/zero or an ordinary file), deleted and recreated, renamed over (an
 * editor's atomic save), or a directory removed and made again is still followed. A change is reported once its
 * identity (inode, size, times, symlink target) differs from the last one reported.
 */
import { watch, type FSWatcher } from "chokidar";
import { lstat, readlink, stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import type { Logger } from "pino";

/** Dependencies and timing of a config watcher. */
export interface ConfigWatcherOptions {
  readonly path: string;
  readonly log: Logger;
  /** Called once per noticed change of the file (not awaited twice at once: changes during a call fold). */
  readonly onChange: (why: string) => Promise<void> | void;
  /** Backstop poll period (default 2 s): catches what the directory watch cannot see. */
  readonly pollMs?: number;
  /** Quiet time after a directory event before the file is looked at (default 100 ms), so a save in several writes is one change. */
  readonly settleMs?: number;
}

/** What identifies one version of the file; equal signatures mean nothing to reload. */
async function signatureOf(path: string): Promise<string> {
  const parts: string[] = [];
  try {
    const l = await lstat(path);
    parts.push(`l:${l.ino}:${l.size}:${l.mtimeMs}:${l.ctimeMs}`);
    if (l.isSymbolicLink()) parts.push(`->${await readlink(path).catch(() => "?")}`);
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? "?"}`;
  }
  try {
    const s = await stat(path);
    parts.push(`t:${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`);
  } catch (err) {
    parts.push(`t:${(err as NodeJS.ErrnoException).code ?? "?"}`);
  }
  return parts.join(" ");
}

/** Follows one config file through any replacement; `close()` stops it. */
export class ConfigWatcher {
  private readonly path: string;
  private readonly dir: string;
  private readonly name: string;
  private watcher: FSWatcher | undefined;
  private last = "";
  private settleTimer: NodeJS.Timeout | undefined;
  private readonly pollTimer: NodeJS.Timeout;
  private checking: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly opts: ConfigWatcherOptions) {
    this.path = resolve(opts.path);
    this.dir = dirname(this.path);
    this.name = basename(this.path);
    this.pollTimer = setInterval(() => void this.check("poll"), opts.pollMs ?? 2000);
    this.pollTimer.unref();
  }

  /** Records the current version (not reported) and starts watching. */
  async start(): Promise<void> {
    this.last = await signatureOf(this.path);
    await this.arm();
  }

  /** Stops watching. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.settleTimer);
    await this.watcher?.close();
    await this.checking;
  }

  /** (Re)creates the directory watch; after an error or the directory's removal it is made again by the poll. */
  private arm(): Promise<void> {
    if (this.closed || this.watcher) return Promise.resolve();
    const w = watch(this.dir, {
      ignoreInitial: true,
      depth: 0,
      followSymlinks: false,
      // Only the config itself: the directory may hold other files that change often.
      ignored: (p: string) => p !== this.dir && basename(p) !== this.name,
    });
    w.on("all", (event, p) => {
      if (p === this.dir && event === "unlinkDir") return this.disarm(w, "config directory removed");
      if (basename(p) !== this.name) return;
      clearTimeout(this.settleTimer);
      this.settleTimer = setTimeout(() => void this.check(`file ${event}`), this.opts.settleMs ?? 100);
    });
    w.on("error", (err) => {
      this.opts.log.warn({ err, dir: this.dir }, "config watch failed; re-arming");
      this.disarm(w, "watch error");
    });
    this.watcher = w;
    return new Promise((ready) => w.once("ready", () => ready()));
  }

  private disarm(w: FSWatcher, why: string): void {
    if (this.watcher !== w) return;
    this.watcher = undefined;
    this.opts.log.debug({ dir: this.dir, why }, "config watch stopped");
    void w.close();
  }

  /** Compares the file's signature with the last reported one; reports a difference once. */
  private check(why: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        if (!this.watcher) void this.arm();
        const now = await signatureOf(this.path);
        if (now === this.last) continue;
        this.last = now;
        try {
          await this.opts.onChange(why === "poll" ? "file changed (poll)" : why);
        } catch (err) {
          this.opts.log.error({ err }, "config change handler failed");
        }
      } while (this.again && !this.closed);
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }
}
