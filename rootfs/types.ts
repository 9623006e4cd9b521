/** Types shared across the rootfs module: the per-Pi root spec, injected dependencies, progress events. */
import type { MetricsRegistry } from "../lib/metrics.ts";

/** Everything pirack needs to give one Pi its root; the lead maps the plan onto this. */
export interface PiRootSpec {
  /** Switch port (1-based); names the Pi in logs and progress events. */
  readonly port: number;
  /** Pi name from the plan, e.g. `pi01`. */
  readonly name: string;
  /** Hostname written to /etc/hostname. */
  readonly hostname: string;
  /** The Pi's storage address (its /30's +2), e.g. `10.46.189.2`. */
  readonly piAddress: string;
  /** The fileserver's address on the Pi's /30 (+1), e.g. `10.46.189.1`. */
  readonly serverAddress: string;
  /** Storage netmask, normally `255.255.255.252`. */
  readonly netmask: string;
  /** Public (shared, tagged) VLAN id, e.g. 131: the Pi gets `eth0.<publicVlan>`. */
  readonly publicVlan: number;
  /** Public IPv6 address, optionally with `/prefix` (default /64). */
  readonly publicAddress: string;
  /** Public IPv6 gateway. */
  readonly publicGateway: string;
  /** Absolute directory of the Pi's root on the fileserver, e.g. `/export/10.46.189.2`. */
  readonly exportPath: string;
  /** Extra `/etc/hosts` entries (other cluster members). */
  readonly extraHosts?: readonly { readonly address: string; readonly names: readonly string[] }[];
  /**
   * The image this Pi's root is cloned from (absolute directory): a role layer `<images>/<image>+<role>` for a Pi
   * with a role; the store's golden image (`RootStoreOptions.imagePath`) when absent.
   */
  readonly imagePath?: string;
  /**
   * The layer the root must come from, as the image's `etc/pirack/layer.json` names it (`web`); absent for the
   * golden image. An existing root whose layer differs needs a rebuild (its packages differ); never rewritten here.
   */
  readonly layer?: string;
}

/** Output of one program run. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options for one program run. */
export interface RunOptions {
  /** Called for every complete output line, as it arrives (progress from debootstrap, tar checkpoints). */
  readonly onLine?: (line: string, stream: "stdout" | "stderr") => void;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** Runs a program and never throws on a non-zero exit (an execa wrapper in production). */
export type CommandRunner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<CommandResult>;

/** Minimal logger shape; a pino child logger satisfies it. */
export interface RootfsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Dependencies every rootfs adapter takes: a logger, a program runner, randomness and a clock. */
export interface RootfsDeps {
  readonly log: RootfsLogger;
  readonly run: CommandRunner;
  /** Random bytes (machine-id, temporary names); `crypto.randomBytes` in production. */
  readonly randomBytes?: (n: number) => Buffer;
  /** Wall clock for dated old roots; `() => new Date()` in production. */
  readonly now?: () => Date;
  /** Metrics registry (`GET /metrics`); optional so tools and tests can leave it out. */
  readonly metrics?: MetricsRegistry;
}

/** How a Pi's root is cloned from the golden image. */
export type CloneStrategy = "snapshot" | "reflink" | "copy";

/** A progress report for long operations (image build, clone). */
export interface Progress {
  /** Phase, e.g. `debootstrap`, `second-stage`, `clone`, `customise`, `done`. */
  readonly phase: string;
  /** Human-readable detail (a debootstrap `I:` line, the strategy). */
  readonly message: string;
  /** Pi port when the event concerns one Pi's root. */
  readonly port?: number;
  /** Bytes done / total when known (plain copy). */
  readonly bytesDone?: number;
  readonly bytesTotal?: number;
}

/** Receives progress reports; the CLI draws a bar, `serve` logs them. */
export type ProgressListener = (p: Progress) => void;
