/**
 * Test and bench support: rpcbind + nfs-ganesha inside a network namespace, in a private mount
 * namespace with its own /run and /var/lib/nfs (rpcbind's socket is /run/rpcbind.sock; sharing the
 * host's would collide with anything else on the machine). See reference/testbed.md §2.
 */
import { execa, type ResultPromise } from "execa";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** A running ganesha; `stop()` kills it (rpcbind dies with the namespace's teardown or here). */
export interface GaneshaServer {
  readonly pidFile: string;
  readonly logFile: string;
  pid(): Promise<number>;
  stop(): Promise<void>;
}

const SCRIPT = `
set -e
W=$1; CONF=$2
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir -p /run/rpcbind /run/ganesha /run/lock /var/lib/nfs
mount -t tmpfs tmpfs /var/lib/nfs
mkdir -p /var/lib/nfs/ganesha
rpcbind -f -w &
RPCB=$!
# rpcbind must own its socket before ganesha registers with it.
for i in $(seq 200); do [ -S /run/rpcbind.sock ] && break; sleep 0.05; done
ganesha.nfsd -F -L "$W/ganesha.log" -f "$CONF" -N NIV_EVENT -p "$W/ganesha.pid" &
GAN=$!
trap 'kill $GAN $RPCB 2>/dev/null; wait' TERM INT
wait $GAN
`;

/** Polls until `check` passes or `timeoutMs` elapses (no fixed sleeps: each probe is a real query). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts ganesha with `conf` in namespace `ns`; resolves once NFS and MOUNT answer on loopback. */
export async function startGanesha(ns: string, conf: string, workDir: string, timeoutMs = 30_000): Promise<GaneshaServer> {
  const pidFile = join(workDir, "ganesha.pid");
  const logFile = join(workDir, "ganesha.log");
  const child: ResultPromise = execa("ip", ["netns", "exec", ns, "unshare", "--mount", "bash", "-c", SCRIPT, "ganesha-up", workDir, conf], { reject: false });
  const pid = async () => Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  try {
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`ganesha wrapper exited: ${(await child).stderr}`);
        const r = await execa("ip", ["netns", "exec", ns, "rpcinfo", "-p", "127.0.0.1"], { reject: false });
        return /\bmountd\b/.test(r.stdout) && /\bnfs\b/.test(r.stdout);
      },
      "ganesha to register NFS and MOUNT",
      timeoutMs,
    );
  } catch (err) {
    child.kill("SIGKILL");
    await child;
    throw err;
  }
  return {
    pidFile,
    logFile,
    pid,
    stop: async () => {
      child.kill("SIGTERM");
      const done = await Promise.race([child.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      if (!done) child.kill("SIGKILL");
      await child;
    },
  };
}
