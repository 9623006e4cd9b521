/**
 * Reading a file again only when it changed, decided by one `lstat` instead of open, fstat, read and close: for
 * passes that check thousands of small files that almost never change (interface files, every root's pirack
 * files). A version is the device, inode, size, mtime and ctime in nanoseconds of a regular file or a directory
 * (a directory's times move when an entry is added, removed or renamed).
 *
 * The `lstat` is made synchronously. Its cost does not depend on what the path holds (a Pi can fill its root,
 * not make one lstat of a fixed path slow), and it is several times cheaper than a thread-pool round trip for the
 * event loop (measured on the 2-core bench VM: ~5 us against ~35 us of main-thread time per async call, see
 * docs/scale.md). Anything that reads content (a file, a directory listing) stays asynchronous.
 *
 * File times come from a coarse clock (a jiffy, 1-10 ms): two writes of the same size inside one tick leave the
 * same version. So a version is trusted only once the ctime is `racyMs` older than the moment it was taken
 * (git's "racy" rule): a path changed just now is read again on the next pass, until it has been still long
 * enough for a later change to show in its ctime.
 */
import { lstatSync, type BigIntStats } from "node:fs";

/** What one `lstat` says about a path before reading it. */
type Probe =
  | { readonly kind: "missing" }
  | { readonly kind: "file" | "directory"; readonly version: string | undefined }
  | { readonly kind: "other" };

function probe(path: string, racyMs: number, now: () => number): Probe {
  const takenAt = now();
  let st: BigIntStats | undefined;
  try {
    st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    // ENOTDIR: a component is a file, so nothing is there; any other failure (EACCES, EIO) is the reader's to report.
    return (err as NodeJS.ErrnoException).code === "ENOTDIR" ? { kind: "missing" } : { kind: "other" };
  }
  if (st === undefined) return { kind: "missing" };
  const kind = st.isFile() ? "file" : st.isDirectory() ? "directory" : undefined;
  if (kind === undefined) return { kind: "other" };
  const recent = Number(st.ctimeNs / 1_000_000n) > takenAt - racyMs;
  return { kind, version: recent ? undefined : `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` };
}

/** A regular file's version; undefined for anything else or a change too recent to trust (see the module note). */
export function stableVersion(path: string, racyMs = 1000, now: () => number = Date.now): string | undefined {
  const p = probe(path, racyMs, now);
  return p.kind === "file" ? p.version : undefined;
}

/**
 * Remembers what was read from each path at a trusted version. Long-lived (one per daemon and kind of path); an
 * entry goes when its path is seen missing or changed, and `retainGroups` drops the paths no longer asked about.
 */
export class VersionedReads {
  private readonly seen = new Map<string, { readonly version: string; readonly value: unknown; readonly group: string }>();

  constructor(
    private readonly racyMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The file's text by `read` (which returns undefined for a file that is not there), or the text read at the same
   * version before. A path that is missing is not read; a symlink or anything else not a regular file is read every
   * time (what it points at can change without the link changing).
   */
  read(path: string, read: (path: string) => Promise<string | undefined>, group = ""): Promise<string | undefined> {
    return this.cached(path, "file", read, undefined, group);
  }

  /**
   * What `derive` makes of a directory (its listing, say), or what it made at the same version before; `missing`
   * when the path is not there, without calling `derive`.
   */
  ofDirectory<T>(path: string, derive: (path: string) => Promise<T>, missing: T, group = ""): Promise<T> {
    return this.cached(path, "directory", derive, missing, group);
  }

  private async cached<T>(path: string, kind: "file" | "directory", compute: (path: string) => Promise<T>, missing: T, group: string): Promise<T> {
    const p = probe(path, this.racyMs, this.now);
    if (p.kind === "missing") {
      this.seen.delete(path);
      return missing;
    }
    const version = p.kind === kind ? p.version : undefined;
    const last = this.seen.get(path);
    if (version !== undefined && last?.version === version) return last.value as T;
    // The version is taken before the read: a change between the two is read again on the next pass.
    const value = await compute(path);
    if (version !== undefined) this.seen.set(path, { version, value, group });
    else this.seen.delete(path);
    return value;
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
