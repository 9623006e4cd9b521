/**
 * Open vSwitch with the userspace datapath (`datapath_type=netdev`) inside one network namespace, with its
 * database, sockets, pid and log files in a directory of its own: a real 802.1Q switch on a kernel that has
 * no VLAN devices (reference/testbed.md §9). Started by hand, no systemd; nothing is shared with a host OVS.
 */
import { execa } from "execa";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** A running switch; `vsctl` talks to its own database. */
export interface OvsSwitch {
  readonly dir: string;
  vsctl(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Starts ovsdb-server and ovs-vswitchd in `ns`, with TSO emulation on (veth TCP checksums, testbed.md §9). */
export async function startOvs(ns: string, dir: string): Promise<OvsSwitch> {
  await mkdir(dir, { recursive: true });
  const env = { OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir };
  const db = `unix:${join(dir, "db.sock")}`;
  const must = async (file: string, args: string[]) => {
    const r = await execa(file, args, { env, reject: false });
    if (r.exitCode !== 0) throw new Error(`${file} ${args.join(" ")} exited with ${r.exitCode}: ${r.stderr}`);
    return r.stdout;
  };
  const vsctl = (...args: string[]) => must("ovs-vsctl", [`--db=${db}`, "--timeout=20", ...args]);
  await must("ovsdb-tool", ["create", join(dir, "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema"]);
  await must("ip", ["netns", "exec", ns, "ovsdb-server", join(dir, "conf.db"), `--remote=p${db}`, `--pidfile=${join(dir, "ovsdb-server.pid")}`, `--unixctl=${join(dir, "ovsdb-server.ctl")}`, `--log-file=${join(dir, "ovsdb-server.log")}`, "--detach"]);
  await vsctl("--no-wait", "init");
  await vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true");
  await must("ip", ["netns", "exec", ns, "ovs-vswitchd", db, `--pidfile=${join(dir, "ovs-vswitchd.pid")}`, `--unixctl=${join(dir, "ovs-vswitchd.ctl")}`, `--log-file=${join(dir, "ovs-vswitchd.log")}`, "--detach"]);
  const stop = async () => {
    for (const name of ["ovs-vswitchd", "ovsdb-server"]) {
      const pid = Number((await readFile(join(dir, `${name}.pid`), "utf8").catch(() => "")).trim());
      if (pid > 0) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          // Already gone.
        }
      }
    }
  };
  return { dir, vsctl, stop };
}
