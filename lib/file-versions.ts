/**
 * Reading a file again only when it changed, decided by one `lstat` instead of open, fstat, read and close: for
 * passes that check thousands of small files that almost never change (interface files, every root's pirack
 * files). A version is the file's device, inode, size, mtime and ctime in nanoseconds.
 *
 * File times come from a coarse clock (a jiffy, 1-10 ms): two writes of the same size inside one tick leave the
 * same version. So a version is trusted only once the file's ctime is `racyMs` older than the moment it was
 * taken (git's "racy" rule): a file changed just now is read again on the next pass, until it has been still
 * long enough for a later change to show in its ctime.
 */
import { lstat } from "node:fs/promises";

/** A regular file's version; undefined for anything else or a change too recent to trust (see the module note). */
export async function stableVersion(path: string, racyMs = 1000, now: () => number = Date.now): Promise<string | undefined> {
  const p = await probe(path, racyMs, now);
  return p.kind === "file" ? p.version : undefined;
}

/** What one `lstat` says about a path before reading it. */
type Probe = { readonly kind: "missing" } | { readonly kind: "file"; readonly version: string | undefined } | { readonly kind: "other" };

async function probe(path: string, racyMs: number, now: () => number): Promise<Probe> {
  const takenAt = now();
  try {
    const st = await lstat(path, { bigint: true });
    if (!st.isFile()) return { kind: "other" };
    const recent = Number(st.ctimeNs / 1_000_000n) > takenAt - racyMs;
    return { kind: "file", version: recent ? undefined : `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT and ENOTDIR: nothing there; any other failure (EACCES, EIO) is the reader's to report.
    return code === "ENOENT" || code === "ENOTDIR" ? { kind: "missing" } : { kind: "other" };
  }
}

/**
 * Remembers what each file held at a trusted version. Long-lived (one per daemon and kind of file); an entry goes
 * when its file is seen missing or changed, and `retainGroups` drops the paths no longer asked about.
 */
export class VersionedReads {
  private readonly seen = new Map<string, { readonly version: string; readonly content: string | undefined; readonly group: string }>();

  constructor(
    private readonly racyMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The file's text by `read` (which returns undefined for a file that is not there), or the text read at the same
   * version before. A path that is missing is not read; a symlink or anything else not a regular file is read every
   * time (what it points at can change without the link changing).
   */
  async read(path: string, read: (path: string) => Promise<string | undefined>, group = ""): Promise<string | undefined> {
    const p = await probe(path, this.racyMs, this.now);
    if (p.kind === "missing") {
      this.seen.delete(path);
      return undefined;
    }
    const last = this.seen.get(path);
    if (p.kind === "file" && p.version !== undefined && last?.version === p.version) return last.content;
    // The version is taken before the read: a change between the two is read again on the next pass.
    const content = await read(path);
    if (p.kind === "file" && p.version !== undefined) this.seen.set(path, { version: p.version, content, group });
    else this.seen.delete(path);
    return content;
  }

  /** Forgets every path whose group (given to `read`: a Pi's root) `keep` refuses: Pis no longer in the rack. */
  retainGroups(keep: (group: string) => boolean): void {
    for (const [path, e] of this.seen) if (!keep(e.group)) this.seen.delete(path);
  }

  /** Paths remembered (for tests and the metrics of a long-lived cache). */
  get size(): number {
    return this.seen.size;
  }
}
