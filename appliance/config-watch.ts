/**
 * Watching `rack.yaml` so that no replacement of the file ends the watch: the file's directory is watched
 * (inotify through `fs.watch`: every entry created, renamed, removed or written in it) rather than the file
 * itself, re-armed when the directory is replaced, and a slow stat poll backs it up, so
 * a file replaced by a symlink (to /dev/zero or an ordinary file), deleted and recreated, renamed over (an
 * editor's atomic save), or a directory removed and made again is still followed. A change is reported once its
 * identity (inode, size, times, symlink target) differs from the last one reported.
 */
import { watch, type FSWatcher } from "node:fs";
import { lstat, readlink, stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import type { Logger } from "pino";

/** Dependencies and timing of a config watcher. */
export interface ConfigWatcherOptions {
  readonly path: string;
  readonly log: Logger;
  /**
   * Called once per noticed change of the file (not awaited twice at once: changes during a call fold), with the
   * settled version's signature (`signatureOf`): a reader that finds another version has raced a writer.
   */
  readonly onChange: (why: string, signature: string) => Promise<void> | void;
  /** Backstop poll period (default 2 s): catches what the directory watch cannot see. */
  readonly pollMs?: number;
  /** Quiet time after a directory event before the file is looked at (default 100 ms), so a save in several writes is one change. */
  readonly settleMs?: number;
  /** Longest wait for a file that keeps changing before it is read as it stands (default 3 s). */
  readonly maxSettleMs?: number;
}

/** What identifies one version of the file; equal signatures mean nothing to reload. */
export async function signatureOf(path: string): Promise<string> {
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
  private watchedDirIno: number | undefined;
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
    this.disarm();
    await this.checking;
  }

  /** (Re)creates the directory watch; after an error or the directory's replacement the next check makes it again. */
  private async arm(): Promise<void> {
    if (this.closed || this.watcher) return;
    const dirIno = await stat(this.dir).then((s) => s.ino, () => undefined);
    if (dirIno === undefined || this.closed || this.watcher) return;
    let w: FSWatcher;
    try {
      w = watch(this.dir, { persistent: false }, (_event, file) => {
        // Only the config itself (a null name means the kernel did not say which entry: look anyway).
        if (file !== null && file !== this.name) return;
        clearTimeout(this.settleTimer);
        this.settleTimer = setTimeout(() => void this.check("file changed"), this.opts.settleMs ?? 100);
      });
    } catch (err) {
      this.opts.log.warn({ err, dir: this.dir }, "config watch failed; the poll carries on");
      return;
    }
    w.on("error", (err) => {
      this.opts.log.warn({ err, dir: this.dir }, "config watch failed; re-arming");
      this.disarm();
    });
    this.watcher = w;
    this.watchedDirIno = dirIno;
  }

  private disarm(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedDirIno = undefined;
  }

  /** A directory renamed away keeps its inotify watch: re-arm on the directory now at the path. */
  private async rearmIfMoved(): Promise<void> {
    const dirIno = await stat(this.dir).then((s) => s.ino, () => undefined);
    if (this.watcher && dirIno !== this.watchedDirIno) this.disarm();
    if (!this.watcher) await this.arm();
  }

  /**
   * The file's signature once it has stopped changing: unchanged over one settle time, or over a longer one while
   * the file is empty (a writer that created the file has usually not written it yet). Bounded: after `maxSettleMs`
   * the current version is taken as it is.
   */
  private async settled(): Promise<string> {
    const settleMs = this.opts.settleMs ?? 100;
    const deadline = Date.now() + (this.opts.maxSettleMs ?? 3000);
    let sig = await signatureOf(this.path);
    while (!this.closed && Date.now() < deadline) {
      const empty = /^l:\d+:0:/.test(sig) || / t:\d+:\d+:0:/.test(sig);
      await new Promise((r) => setTimeout(r, empty ? settleMs * 5 : settleMs));
      const again = await signatureOf(this.path);
      if (again === sig) return sig;
      sig = again;
    }
    return sig;
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
        await this.rearmIfMoved();
        const now = await this.settled();
        if (now === this.last || this.closed) continue;
        this.last = now;
        try {
          await this.opts.onChange(why === "poll" ? "file changed (poll)" : why, now);
        } catch (err) {
          this.opts.log.error({ err }, "config change handler failed");
        }
        // Changed while the handler read it (a writer that recreated the file and had not yet written it): again.
        if ((await signatureOf(this.path)) !== now) this.again = true;
      } while (this.again && !this.closed);
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }
}
