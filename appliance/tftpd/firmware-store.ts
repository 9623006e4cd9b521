/**
 * Shared boot files under `boot.firmware`, read into memory once and served to every Pi. Cache entries
 * are keyed by real path and checked against inode + mtime + size on every request, so a boot storm
 * of a full shelf reads each file from disk once, and a replaced file (new inode, or rewritten in
 * place with a new mtime) is picked up on the next request.
 */
import { realpath, stat, readFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { NotFoundError, OperationError, PirackError } from "../../lib/errors.ts";
import { toNetascii } from "./netascii.ts";

/** Bounds of the in-memory file cache. */
export interface FirmwareStoreOptions {
  /** Directory holding bootcode.bin, start*.elf, fixup*.dat, kernels, DTBs, overlays/. */
  readonly root: string;
  /** Total bytes kept in memory; least recently used files are dropped beyond this. */
  readonly cacheBytes: number;
}

/** One file as served: its bytes, and false in `cacheHit` only for the request that read the disk. */
export interface StoredFile {
  readonly data: Buffer;
  readonly cacheHit: boolean;
}

interface Entry {
  readonly ino: number;
  readonly mtimeMs: number;
  readonly size: number;
  readonly data: Buffer;
  netascii?: Buffer;
}

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** Reads confined, cached files from the firmware root. */
export class FirmwareStore {
  // Map iteration order is insertion order: re-inserting on hit makes the first key the LRU one.
  private readonly cache = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private cachedBytes = 0;

  /** `options.root` need not exist yet; requests fail with not-found until it does. */
  constructor(private readonly options: FirmwareStoreOptions) {}

  /** Bytes currently held in memory (for metrics). */
  get bytesCached(): number {
    return this.cachedBytes;
  }

  /**
   * Returns the file at `relativePath` (already checked by the path policy), converted to netascii
   * when asked. Throws `NotFoundError` (TFTP_FILE_NOT_FOUND) for missing files and non-files,
   * `PirackError` TFTP_PATH_ESCAPES when a symlink leads outside the root, and `OperationError`
   * TFTP_READ_FAILED for other I/O failures.
   */
  async read(relativePath: string, netascii = false): Promise<StoredFile> {
    const real = await this.confine(relativePath);
    let st;
    try {
      st = await stat(real);
    } catch (err) {
      throw this.ioError(relativePath, err);
    }
    if (!st.isFile()) throw new NotFoundError("TFTP_FILE_NOT_FOUND", `expected a regular file at ${relativePath}, found another kind`);
    let entry = this.cache.get(real);
    let hit = entry !== undefined && entry.ino === st.ino && entry.mtimeMs === st.mtimeMs && entry.size === st.size;
    if (hit && entry) {
      this.cache.delete(real);
      this.cache.set(real, entry);
    } else {
      // A request that joins a read already in flight counts as a hit: only one went to disk.
      hit = this.loading.has(real);
      entry = await this.load(real, relativePath, st.ino, st.mtimeMs);
    }
    if (!netascii) return { data: entry.data, cacheHit: hit };
    entry.netascii ??= toNetascii(entry.data);
    return { data: entry.netascii, cacheHit: hit };
  }

  /** Drops every cached file. */
  clear(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }

  private async confine(relativePath: string): Promise<string> {
    let root: string;
    let real: string;
    try {
      root = await realpath(this.options.root);
      real = await realpath(join(root, relativePath));
    } catch (err) {
      throw this.ioError(relativePath, err);
    }
    // The path policy already refused `..`; this catches symlinks that point out of the root.
    if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) {
      throw new PirackError("TFTP_PATH_ESCAPES", `expected ${relativePath} to stay under ${root}, it resolves to ${real}`);
    }
    return real;
  }

  private load(real: string, relativePath: string, ino: number, mtimeMs: number): Promise<Entry> {
    const pending = this.loading.get(real);
    // Concurrent requests for the same file (a storm) share one disk read.
    if (pending) return pending;
    const p = readFile(real)
      .then((read) => {
        // Shared memory, so transfer workers get the bytes without a copy (transfer-pool.ts).
        const data = Buffer.from(new SharedArrayBuffer(read.length));
        read.copy(data);
        const entry: Entry = { ino, mtimeMs, size: data.length, data };
        this.store(real, entry);
        return entry;
      })
      .catch((err: unknown) => {
        throw this.ioError(relativePath, err);
      })
      .finally(() => this.loading.delete(real));
    this.loading.set(real, p);
    return p;
  }

  private store(real: string, entry: Entry): void {
    const old = this.cache.get(real);
    if (old) {
      this.cache.delete(real);
      this.cachedBytes -= old.size;
    }
    // A file larger than the whole cache is served from this one read and not kept.
    if (entry.size > this.options.cacheBytes) return;
    for (const [key, e] of this.cache) {
      if (this.cachedBytes + entry.size <= this.options.cacheBytes) break;
      this.cache.delete(key);
      this.cachedBytes -= e.size;
    }
    this.cache.set(real, entry);
    this.cachedBytes += entry.size;
  }

  private ioError(relativePath: string, err: unknown): PirackError {
    if (err instanceof PirackError) return err;
    const code = errnoOf(err);
    if (code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP") {
      return new NotFoundError("TFTP_FILE_NOT_FOUND", `expected ${relativePath} under the firmware root, it does not exist`, { cause: err });
    }
    return new OperationError("TFTP_READ_FAILED", `expected to read ${relativePath}, got ${code ?? String(err)}`, { cause: err });
  }
}
