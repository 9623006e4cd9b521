/**
 * The bench's handle on its PoE switch (adapter): starts `switch-main.ts` in the switch namespace and turns its
 * JSON lines into typed events: VLAN membership (the wiring follows it) and PoE (the power rail follows it).
 */
import { EventEmitter } from "node:events";
import { createInterface } from "node:readline";
import { spawnIn, type Child } from "./netns.ts";
import { nodeTs } from "./node-ts.ts";
import type { BenchLayout } from "./layout.ts";
import type { PortVlans } from "./ovs-ports.ts";

/** Events of the switch. */
export interface SwitchLinkEvents {
  vlans: [readonly PortVlans[]];
  poe: [number, boolean];
  exit: [];
}

/** The running simulated switch. */
export class SwitchLink extends EventEmitter<SwitchLinkEvents> {
  /** The last VLAN membership reported. */
  vlans: readonly PortVlans[] = [];
  private child: Child | undefined;

  /** Starts the switch and resolves once its SNMP agent is listening. */
  async start(layout: BenchLayout, logFile: string, timeoutMs = 60_000): Promise<void> {
    const { cmd, args } = nodeTs("bench/rack/switch-main.ts", [
      "--address",
      layout.management.switchAddress,
      "--port",
      "161",
      "--ports",
      String(layout.switch.ports),
      "--uplink",
      String(layout.switch.fileserverPort),
      "--profile",
      layout.switch.profile,
      "--log",
      logFile,
      ...layout.pis.flatMap((p) => ["--pi", `${p.port}=${p.mac}`]),
    ]);
    const child = spawnIn(layout.namespaces.switch, cmd, args, { stdout: "pipe", stderr: { file: `${logFile}.stderr` } });
    this.child = child;
    const listening = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the simulated switch did not listen within ${timeoutMs} ms (see ${logFile}.stderr)`)), timeoutMs);
      void child.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the simulated switch exited before listening (see ${logFile}.stderr)`));
      });
      createInterface({ input: child.process.stdout! }).on("line", (line) => {
        let msg: { msg?: string; ports?: PortVlans[]; port?: number; powered?: boolean };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return; // not one of ours (a stray print): the log file has the details
        }
        if (msg.msg === "listening") {
          clearTimeout(timer);
          resolve();
        } else if (msg.msg === "vlans" && msg.ports) {
          this.vlans = msg.ports;
          this.emit("vlans", msg.ports);
        } else if (msg.msg === "poe" && typeof msg.port === "number") this.emit("poe", msg.port, msg.powered === true);
      });
    });
    void child.exited.then(() => this.emit("exit"));
    await listening;
  }

  /** Stops the switch. */
  async stop(): Promise<void> {
    this.child?.kill("SIGTERM");
    await Promise.race([this.child?.exited, new Promise((r) => setTimeout(r, 3000))]);
    this.child?.kill("SIGKILL");
  }
}
