/**
 * The roots adapter: observes Pi roots on disk, creates missing ones from their image (the golden image, or
 * the role layer a spec names) (clone -> customise -> sync -> rename into place) and rebuilds a root on explicit request,
 * keeping the old one aside, dated.
 */
import { mapLimit } from "../lib/map-limit.ts";
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import { copyFile, lstat, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { NotFoundError, OperationError } from "../lib/errors.ts";
import { isDirectorySync, readdirOrEmpty } from "../lib/fs-read.ts";
import { chooseCloneStrategy, type StrategyChoice } from "./filesystem.ts";
import { cloneTree, removeTree } from "./clone.ts";
import type { VersionedReads } from "../lib/file-versions.ts";
import { generateHostKeys, hasHostKeyPair, hasHostKeys, inRoot, readRootFile, safeDir, writeHostKeyConfig, writeMachineId, writeRootFile } from "./customise.ts";
import { withDirectoryLock, withDirectoryLocks } from "./lock.ts";
import { isTempFor, LAYER_MANIFEST, oldDirFor, oldPathFor, planOldRootPruning, stampOf, tempDirFor, tempPathFor } from "./layout.ts";
import { isMachineId, renderRootFiles } from "./render.ts";
import { describeRootAction, planRoots, type ObservedRoot, type RootAction } from "./roots-plan.ts";
import type { CloneStrategy, PiRootSpec, ProgressListener, RootfsDeps } from "./types.ts";

/** How roots are made and kept. */
export interface RootStoreOptions {
  /** The golden image directory (`<paths.images>/<image>`). */
  readonly imagePath: string;
  /** `auto` (default) picks snapshot, reflink or copy per filesystem; a fixed one is used as is. */
  readonly strategy?: "auto" | CloneStrategy;
  /**
   * Allow btrfs snapshots under `auto` (default true). Set false when the NFS server is Debian 12's
   * nfs-ganesha 4.3: it is built without libbtrfsutil, so its VFS FSAL cannot export a subvolume
   * that is not a mount point ("btfs filesystem ... may have unsupported subvols", then
   * `resolve_posix_filesystem ... No such file or directory`). Reflinks on btrfs work with it.
   */
  readonly snapshots?: boolean;
  /** Old roots kept per Pi after rebuilds (default 2); older ones are deleted. */
  readonly retainOldRoots?: number;
  /** SSH host key types to generate (default ed25519 and ecdsa; add "rsa" for old clients). */
  readonly hostKeyTypes?: readonly string[];
}

/** What `apply` reached: the actions that ran and those that failed (retried next pass). */
export interface RootsApplyResult {
  readonly applied: readonly RootAction[];
  readonly failed: readonly { readonly action: RootAction; readonly error: Error }[];
}

/** What a rebuild did. */
export interface RebuildResult {
  readonly path: string;
  /** Where the previous root was kept (undefined when there was none). */
  readonly oldPath: string | undefined;
  readonly strategy: CloneStrategy;
  /** Old roots deleted by the retention rule. */
  readonly pruned: readonly string[];
}

const exists = async (p: string): Promise<boolean> =>
  lstat(p).then(
    () => true,
    () => false,
  );

const isDirectory = (p: string): Promise<boolean> =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** The layer a root in place was cloned from (its `etc/pirack/layer.json` role); undefined: the golden image. */
export const readRootLayer = async (root: string): Promise<string | undefined> => layerOf(await readRootFile(root, LAYER_MANIFEST));

/** The role a layer manifest names (undefined: no manifest, the golden image; unreadable: "unknown"). */
function layerOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    const role = (JSON.parse(text) as { role?: unknown }).role;
    return typeof role === "string" ? role : "unknown";
  } catch {
    return "unknown";
  }
}

/** Pi roots on the fileserver's export filesystem. */
export class RootStore {
  /**
   * Strategy choices by image and work directory, for this store's lifetime (the reconciler makes one store per
   * pass): choosing probes the filesystems and runs a one-file `cp --reflink`, once per pass instead of per clone.
   */
  private readonly choices = new Map<string, Promise<StrategyChoice>>();

  constructor(
    private readonly opts: RootStoreOptions,
    private readonly deps: RootfsDeps & {
      readonly onProgress?: ProgressListener;
      /** Kept across passes by a daemon: a root file is read again only when its version (one lstat) moved. */
      readonly reads?: VersionedReads;
    },
  ) {}

  /** A file in a root (undefined when missing), through the version cache when there is one. */
  private readIn(root: string, relative: string): Promise<string | undefined> {
    const reads = this.deps.reads;
    return reads ? reads.read(inRoot(root, relative), () => readRootFile(root, relative), root) : readRootFile(root, relative);
  }

  /** Reads what is on disk for each desired Pi. */
  async observe(specs: readonly PiRootSpec[]): Promise<ObservedRoot[]> {
    // Every root of an exports directory shares one work directory: it is listed once, not once per Pi.
    const tmpListings = new Map<string, Promise<string[]>>();
    const listTmp = (dir: string): Promise<string[]> => {
      let listing = tmpListings.get(dir);
      if (!listing) tmpListings.set(dir, (listing = readdirOrEmpty(dir)));
      return listing;
    };
    // Pis gone from the rack are forgotten by the version cache.
    const roots = new Set(specs.map((s) => s.exportPath));
    this.deps.reads?.retainGroups((root) => roots.has(root));
    // Bounded: 4,000 roots at once queued ~100,000 file operations on libuv's four threads ahead of DHCP and TFTP.
    // Answered from the version cache, a root costs a few synchronous lstats: the event loop runs every 8 roots.
    return mapLimit(specs, 32, async (spec) => {
      const root = spec.exportPath;
      const isRoot = isDirectorySync(root);
      const files: Record<string, string | undefined> = {};
      if (isRoot) for (const f of renderRootFiles(spec)) files[f.path] = await this.readIn(root, f.path);
      const tmpDir = tempDirFor(root);
      const staleTemps = (await listTmp(tmpDir)).filter((e) => isTempFor(root, e)).map((e) => join(tmpDir, e));
      const layer = isRoot ? layerOf(await this.readIn(root, LAYER_MANIFEST)) : undefined;
      return {
        port: spec.port,
        exportPath: root,
        exists: isRoot,
        files,
        hasHostKeys: isRoot && (await this.hostKeysIn(root)),
        hasMachineId: isRoot && isMachineId(await this.readIn(root, "etc/machine-id")),
        staleTemps,
        ...(layer !== undefined ? { layer } : {}),
        ...(!isRoot && !(await isDirectory(this.imageOf(spec))) ? { imageMissing: true } : {}),
      };
    }, { yieldEvery: 8 });
  }

  /** Whether a root has a host key pair: its `etc/ssh` listed only when the directory changed (with a cache). */
  private hostKeysIn(root: string): Promise<boolean> {
    const reads = this.deps.reads;
    if (!reads) return hasHostKeys(root);
    return reads.ofDirectory(inRoot(root, "etc/ssh"), async (dir) => hasHostKeyPair(await readdirOrEmpty(dir)), false, root);
  }

  /** The image a Pi's root is cloned from: its own (a role layer) or the golden image. */
  imageOf(spec: PiRootSpec): string {
    return spec.imagePath ?? this.opts.imagePath;
  }

  /** Pure plan; see `planRoots`. */
  plan(specs: readonly PiRootSpec[], observed: readonly ObservedRoot[]): RootAction[] {
    return planRoots(specs, observed);
  }

  /** Observes, plans and applies under the exports directories' locks; one Pi's failure does not stop the others. */
  async apply(specs: readonly PiRootSpec[]): Promise<RootsApplyResult> {
    return withDirectoryLocks(
      specs.map((s) => dirname(s.exportPath)),
      async () => this.executeAll(specs, this.plan(specs, await this.observe(specs))),
    );
  }

  /**
   * Carries out already planned actions, in order, under the exports directories' locks. Nothing is planned
   * again: each action re-checks only its own precondition (a root to create must still be absent).
   */
  async applyActions(specs: readonly PiRootSpec[], actions: readonly RootAction[]): Promise<RootsApplyResult> {
    const ports = new Set(actions.map((a) => a.port));
    const dirs = specs.filter((s) => ports.has(s.port)).map((s) => dirname(s.exportPath));
    return withDirectoryLocks(dirs, () => this.executeAll(specs, actions));
  }

  private async executeAll(specs: readonly PiRootSpec[], actions: readonly RootAction[]): Promise<RootsApplyResult> {
    const bySpec = new Map(specs.map((s) => [s.port, s]));
    const applied: RootAction[] = [];
    const failed: { action: RootAction; error: Error }[] = [];
    for (const action of actions) {
      const spec = bySpec.get(action.port);
      const log = this.deps.log;
      try {
        if (!spec) throw new NotFoundError("ROOT_SPEC_MISSING", `no root spec for port ${action.port}`);
        await this.execute(action, spec);
        applied.push(action);
        log.info({ port: action.port, action: describeRootAction(action) }, "root action applied");
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        failed.push({ action, error });
        log.warn({ port: action.port, action: describeRootAction(action), err: error }, "root action failed");
        this.deps.metrics?.counter("pirack_root_action_failures_total", "Root actions that failed (retried next pass), by kind").inc({ kind: action.kind });
      }
    }
    return { applied, failed };
  }

  /**
   * Resets a Pi's root to the golden image. The new root is built and customised under a
   * temporary name first; only then is the old root moved aside (dated) and the new one renamed
   * in. The Pi keeps its SSH host keys and machine-id, so clients' known_hosts stay valid.
   */
  async rebuild(spec: PiRootSpec): Promise<RebuildResult> {
    return withDirectoryLock(dirname(spec.exportPath), () => this.rebuildLocked(spec));
  }

  private async rebuildLocked(spec: PiRootSpec): Promise<RebuildResult> {
    const root = spec.exportPath;
    const hadRoot = await exists(root);
    const { tmp, strategy } = await this.build(spec, hadRoot ? root : undefined);
    let oldPath: string | undefined;
    try {
      if (hadRoot) {
        oldPath = await this.freeOldPath(root);
        await mkdir(oldDirFor(root), { recursive: true });
        await rename(root, oldPath);
        this.deps.log.info({ port: spec.port, oldPath }, "old root kept aside");
      }
      await rename(tmp, root);
    } catch (err) {
      await removeTree(tmp, this.deps.run);
      throw new OperationError("ROOT_REBUILD_FAILED", `rebuilding ${root} failed while swapping roots`, { cause: err });
    }
    const pruned = await this.pruneOldRoots(spec);
    this.deps.onProgress?.({ phase: "done", message: `root rebuilt (${strategy})`, port: spec.port });
    return { path: root, oldPath, strategy, pruned };
  }

  /** Kept-aside old roots of a Pi, newest first. */
  async listOldRoots(spec: PiRootSpec): Promise<string[]> {
    const dir = oldDirFor(spec.exportPath);
    const entries = await readdirOrEmpty(dir);
    const keep = planOldRootPruning(spec.exportPath, entries, Number.MAX_SAFE_INTEGER);
    return keep.map((e) => join(dir, e));
  }

  private async execute(action: RootAction, spec: PiRootSpec): Promise<void> {
    switch (action.kind) {
      case "removeStaleTemp":
        return removeTree(action.path, this.deps.run);
      case "createRoot":
        return this.create(spec);
      case "writeRootFile":
        return writeRootFile(action.root, action.file);
      case "generateHostKeys":
        return generateHostKeys(action.root, `root@${spec.hostname}`, this.deps.run, this.opts.hostKeyTypes);
      case "writeMachineId":
        return writeMachineId(action.root, this.deps.randomBytes);
      case "imageMissing":
        throw new NotFoundError("IMAGE_NOT_FOUND", `${action.image} does not exist; build it first`);
      case "rebuildNeeded":
        throw new OperationError("ROOT_REBUILD_NEEDED", describeRootAction(action));
    }
  }

  private async create(spec: PiRootSpec): Promise<void> {
    const { tmp } = await this.build(spec, undefined);
    // rename(2) would silently replace an empty directory: refuse if anything appeared meanwhile.
    if (await exists(spec.exportPath)) {
      await removeTree(tmp, this.deps.run);
      throw new OperationError("ROOT_EXISTS", `${spec.exportPath} appeared while its clone was being built; left untouched`);
    }
    await rename(tmp, spec.exportPath);
    this.deps.onProgress?.({ phase: "done", message: "root ready", port: spec.port });
  }

  /** Clones and customises a root under a temporary name; the caller renames it into place. */
  private async build(spec: PiRootSpec, identityFrom: string | undefined): Promise<{ tmp: string; strategy: CloneStrategy }> {
    const image = this.imageOf(spec);
    if (!(await isDirectory(image))) {
      throw new NotFoundError("IMAGE_NOT_FOUND", `${spec.imagePath ? "image" : "golden image"} ${image} does not exist; build or import it first`);
    }
    const files = renderRootFiles(spec);
    const tmpDir = tempDirFor(spec.exportPath);
    // The exports directory stays traversable; only pirack's work area is private.
    await mkdir(dirname(spec.exportPath), { recursive: true, mode: 0o755 });
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    const random = this.deps.randomBytes ?? cryptoRandomBytes;
    const tmp = tempPathFor(spec.exportPath, `${stampOf(this.now())}-${random(3).toString("hex")}`);
    const choice = !this.opts.strategy || this.opts.strategy === "auto" ? await this.choose(image, tmpDir) : { strategy: this.opts.strategy, fallbacks: [] as CloneStrategy[], reason: "configured" };
    const log = this.deps.log;
    log.info({ port: spec.port, image, ...(spec.layer ? { layer: spec.layer } : {}), tmp, strategy: choice.strategy, reason: choice.reason }, "clone started");
    this.deps.onProgress?.({ phase: "clone", message: `cloning with ${choice.strategy}`, port: spec.port });
    const started = this.now().getTime();
    let strategy = choice.strategy;
    try {
      strategy = await this.cloneWithFallback(image, tmp, spec.port, [choice.strategy, ...choice.fallbacks]);
      this.deps.onProgress?.({ phase: "customise", message: "writing identity", port: spec.port });
      for (const f of files) await writeRootFile(tmp, f);
      if (identityFrom && (await hasHostKeys(identityFrom))) await copyIdentity(identityFrom, tmp);
      else {
        await writeMachineId(tmp, random);
        await generateHostKeys(tmp, `root@${spec.hostname}`, this.deps.run, this.opts.hostKeyTypes);
      }
      // syncfs before the rename: after a power cut the root is either absent or complete.
      const r = await this.deps.run("sync", ["-f", tmp]);
      if (r.exitCode !== 0) throw new OperationError("SYNC_FAILED", `sync -f ${tmp} exited with ${r.exitCode}: ${r.stderr.trim()}`);
    } catch (err) {
      await removeTree(tmp, this.deps.run).catch(() => undefined);
      throw err;
    }
    const ms = this.now().getTime() - started;
    log.info({ port: spec.port, strategy, ms }, "clone built");
    this.deps.metrics?.counter("pirack_root_clones_total", "Pi roots cloned from the golden image, by strategy").inc({ strategy });
    this.deps.metrics?.gauge("pirack_root_clone_seconds", "Seconds the last clone of each Pi's root took, customisation included").set(ms / 1000, { port: String(spec.port) });
    return { tmp, strategy };
  }

  private choose(image: string, tmpDir: string): Promise<StrategyChoice> {
    const key = `${image}\0${tmpDir}`;
    let choice = this.choices.get(key);
    if (!choice) {
      choice = chooseCloneStrategy(image, tmpDir, this.deps.run, { snapshots: this.opts.snapshots ?? true });
      // A failed probe is not remembered: the next clone probes again.
      choice.catch(() => this.choices.delete(key));
      this.choices.set(key, choice);
    }
    return choice;
  }

  /** Clones with the first strategy that works; a failed attempt's partial tree is removed first. */
  private async cloneWithFallback(image: string, tmp: string, port: number, strategies: readonly CloneStrategy[]): Promise<CloneStrategy> {
    for (const [i, strategy] of strategies.entries()) {
      try {
        await cloneTree(image, tmp, strategy, { run: this.deps.run, onProgress: this.deps.onProgress, port });
        return strategy;
      } catch (err) {
        const next = strategies[i + 1];
        if (next === undefined) throw err;
        this.deps.log.warn({ port, strategy, next, err }, "clone strategy failed, falling back");
        await removeTree(tmp, this.deps.run);
      }
    }
    throw new OperationError("CLONE_FAILED", `no clone strategy given for ${image}`);
  }

  private async freeOldPath(root: string): Promise<string> {
    const base = oldPathFor(root, this.now());
    for (let n = 0; ; n++) {
      const candidate = n === 0 ? base : `${base}.${n}`;
      if (!(await exists(candidate))) return candidate;
    }
  }

  private async pruneOldRoots(spec: PiRootSpec): Promise<string[]> {
    const dir = oldDirFor(spec.exportPath);
    const doomed = planOldRootPruning(spec.exportPath, await readdirOrEmpty(dir), this.opts.retainOldRoots ?? 2);
    for (const entry of doomed) {
      await removeTree(join(dir, entry), this.deps.run);
      this.deps.log.info({ port: spec.port, path: join(dir, entry) }, "old root pruned");
    }
    return doomed.map((e) => join(dir, e));
  }

  private now(): Date {
    return this.deps.now ? this.deps.now() : new Date();
  }
}

/** Copies SSH host keys and machine-id from an old root into a new one (rebuilds keep identity). */
async function copyIdentity(from: string, to: string): Promise<void> {
  const sshFrom = await safeDir(from, "etc/ssh");
  const sshTo = await safeDir(to, "etc/ssh");
  for (const name of await readdir(sshTo)) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(name)) await rm(join(sshTo, name), { force: true });
  }
  for (const name of await readdir(sshFrom)) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(name)) await copyFile(join(sshFrom, name), join(sshTo, name));
  }
  await writeHostKeyConfig(to);
  const machineId = await readRootFile(from, "etc/machine-id");
  if (isMachineId(machineId)) await writeRootFile(to, { path: "etc/machine-id", text: machineId ?? "", mode: 0o444 });
}
