/**
 * Open vSwitch with the userspace datapath (`datapath_type=netdev`) as the bench's 802.1Q wiring (adapter). Its
 * daemons run inside the switch namespace with a database, sockets, pid files and logs in the run's own
 * directory, never systemd's (reference/testbed.md §9).
 */
import { execa } from "execa";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { execIn } from "./netns.ts";
import { ovsSetPortArgs, sameSetting, type OvsPortSetting } from "./ovs-ports.ts";

const SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
/** The bench's bridge inside the switch namespace. */
export const BRIDGE = "rack";

/** A running OVS instance. */
export class OpenVswitch {
  private readonly current = new Map<string, OvsPortSetting>();
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly ns: string,
    readonly dir: string,
  ) {}

  /** Creates the database, starts ovsdb-server and ovs-vswitchd in `ns`, adds the netdev bridge. */
  static async start(ns: string, dir: string): Promise<OpenVswitch> {
    await mkdir(dir, { recursive: true });
    const ovs = new OpenVswitch(ns, dir);
    const env = { OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_PKGDATADIR: "/usr/share/openvswitch" };
    const run = async (cmd: string, args: string[]) => {
      const r = await execa("ip", ["netns", "exec", ns, cmd, ...args], { reject: false, env, timeout: 60_000 });
      if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.exitCode}: ${r.stderr.trim()}`);
    };
    await run("ovsdb-tool", ["create", join(dir, "conf.db"), SCHEMA]);
    const daemon = (name: string) => [`--pidfile=${join(dir, `${name}.pid`)}`, `--unixctl=${join(dir, `${name}.ctl`)}`, `--log-file=${join(dir, `${name}.log`)}`, "--detach"];
    await run("ovsdb-server", [join(dir, "conf.db"), `--remote=punix:${ovs.socket}`, ...daemon("ovsdb-server")]);
    await ovs.vsctl(["--no-wait", "init"]);
    // Veth offloads leave TCP checksums to be filled in; without userspace TSO the SYNs arrive corrupted (§9).
    await ovs.vsctl(["--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true"]);
    await run("ovs-vswitchd", [`unix:${ovs.socket}`, ...daemon("ovs-vswitchd")]);
    await ovs.vsctl(["add-br", BRIDGE, "--", "set", "bridge", BRIDGE, "datapath_type=netdev"]);
    await execIn(ns, "ip", ["link", "set", BRIDGE, "up"]);
    return ovs;
  }

  /** The database socket. */
  get socket(): string {
    return join(this.dir, "db.sock");
  }

  /** Runs ovs-vsctl against this instance. */
  async vsctl(args: readonly string[]): Promise<string> {
    const r = await execa("ovs-vsctl", [`--db=unix:${this.socket}`, "--timeout=30", ...args], { reject: false });
    if (r.exitCode !== 0) throw new Error(`ovs-vsctl ${args.join(" ")} exited with ${r.exitCode}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Adds interfaces of the switch namespace as ports, each with its first setting, in one transaction. */
  async addPorts(ports: readonly { name: string; setting: OvsPortSetting }[]): Promise<void> {
    const args: string[] = [];
    for (const p of ports) args.push("--", "add-port", BRIDGE, p.name, "--", ...ovsSetPortArgs(p.name, p.setting));
    await this.vsctl(args.slice(1));
    for (const p of ports) this.current.set(p.name, p.setting);
  }

  /** Applies the settings that differ from what is set, in one transaction; serialised. Returns what changed. */
  apply(settings: readonly { name: string; setting: OvsPortSetting }[]): Promise<string[]> {
    const run = this.queue.then(async () => {
      const changed = settings.filter((s) => !sameSetting(this.current.get(s.name), s.setting));
      if (changed.length === 0) return [];
      const args: string[] = [];
      for (const c of changed) args.push("--", ...ovsSetPortArgs(c.name, c.setting));
      await this.vsctl(args.slice(1));
      for (const c of changed) this.current.set(c.name, c.setting);
      return changed.map((c) => c.name);
    });
    this.queue = run.then(() => undefined, () => undefined);
    return run;
  }

  /** Stops both daemons (they also die with the namespace). */
  async stop(): Promise<void> {
    for (const name of ["ovs-vswitchd", "ovsdb-server"]) {
      await execa("ovs-appctl", ["-t", join(this.dir, `${name}.ctl`), "exit"], { reject: false, timeout: 10_000 });
    }
  }
}
