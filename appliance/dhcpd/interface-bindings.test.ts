import { describe, expect, it } from "vitest";
import pino from "pino";
import { NotFoundError } from "../../lib/errors.ts";
import type { DhcpNetwork, DhcpSocket } from "./device-socket.ts";
import { InterfaceBindings, type DhcpClock } from "./interface-bindings.ts";
import type { DhcpScope } from "./policy.ts";

/** Timers run only when the test advances time. */
class ManualClock implements DhcpClock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 0;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.next;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown) {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  async advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const due = this.timers[0];
      if (!due || due.at > end) break;
      this.timers.shift();
      this.t = due.at;
      due.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.t = end;
  }
}

/** Interfaces that come and go; every socket opened is recorded. */
class FakeNetwork implements DhcpNetwork {
  readonly links = new Map<string, number>();
  readonly opened: { name: string; closed: boolean; deliver: (b: Buffer) => void }[] = [];
  private nextIndex = 10;
  add(name: string) {
    this.links.set(name, this.nextIndex++);
  }
  async openSocket(name: string): Promise<DhcpSocket> {
    if (!this.links.has(name)) throw new NotFoundError("DHCP_INTERFACE_MISSING", `interface ${name} does not exist`);
    let handler: (b: Buffer) => void = () => undefined;
    const rec = { name, closed: false, deliver: (b: Buffer) => handler(b) };
    this.opened.push(rec);
    return {
      onMessage: (h) => void (handler = h),
      onError: () => undefined,
      send: async () => undefined,
      close: () => void (rec.closed = true),
    };
  }
  interfaceIndex(name: string) {
    return this.links.get(name);
  }
  async setNeighbour() {}
}

const scope = (vlan: number): DhcpScope => ({ interfaceName: `eth0.${vlan}`, vlan }) as unknown as DhcpScope;

function rig() {
  const clock = new ManualClock();
  const network = new FakeNetwork();
  const states: string[] = [];
  const datagrams: string[] = [];
  const bindings = new InterfaceBindings({
    log: pino({ level: "silent" }),
    clock,
    network,
    port: 67,
    checkMs: 1000,
    retry: { initialMs: 500, maxMs: 4000 },
    onDatagram: (b, bytes) => void datagrams.push(`${b.scope.interfaceName}:${bytes.toString()}`),
    onState: (b, state, reason) => void states.push(`${b.scope.interfaceName} ${state}${reason ? ` (${reason})` : ""}`),
  });
  return { clock, network, states, datagrams, bindings };
}

describe("interface bindings", () => {
  it("opens one socket per interface and hands each datagram to its binding", async () => {
    const { network, bindings, datagrams } = rig();
    network.add("eth0.10");
    network.add("eth0.11");
    await bindings.update([scope(10), scope(11)]);
    expect(bindings.openCount()).toBe(2);
    network.opened[1]!.deliver(Buffer.from("hello"));
    expect(datagrams).toEqual(["eth0.11:hello"]);
  });

  it("retries a missing interface with exponential backoff and opens it once it appears", async () => {
    const { clock, network, bindings, states } = rig();
    await bindings.update([scope(12)]);
    bindings.startWatching();
    expect(bindings.openCount()).toBe(0);
    await clock.advance(1000); // first retry due 500 ms after the failure
    await clock.advance(1000); // second due 1000 ms after that
    const attempts = network.opened.length;
    expect(attempts).toBe(0);
    network.add("eth0.12");
    await clock.advance(4000);
    expect(bindings.openCount()).toBe(1);
    expect(states[0]).toMatch(/^eth0\.12 waiting \(interface eth0\.12 does not exist\)$/);
    expect(states.at(-1)).toBe("eth0.12 open");
  });

  it("reopens the socket of an interface deleted and recreated (new ifindex)", async () => {
    const { clock, network, bindings, states } = rig();
    network.add("eth0.10");
    await bindings.update([scope(10)]);
    bindings.startWatching();
    network.add("eth0.10"); // same name, new index: a socket bound to the old device would hear nothing
    await clock.advance(1000);
    await clock.advance(1000);
    expect(network.opened.map((s) => s.closed)).toEqual([true, false]);
    expect(states).toContain("eth0.10 waiting (interface recreated)");
    expect(bindings.openCount()).toBe(1);
  });

  it("checks thousands of interfaces in slices spread over the check period, and still finds a recreated one within it", async () => {
    const { clock, network, bindings, states } = rig();
    const vlans = Array.from({ length: 2000 }, (_, i) => 10 + i);
    for (const v of vlans) network.add(`eth0.${v}`);
    await bindings.update(vlans.map(scope));
    bindings.startWatching();
    const looked: number[] = [];
    const lookup = network.interfaceIndex.bind(network);
    let n = 0;
    network.interfaceIndex = (name: string) => (n++, lookup(name));
    // One check period (1000 ms here), tick by tick: no tick looks at more than a slice.
    for (let t = 0; t < 1000; t += 20) {
      n = 0;
      await clock.advance(20);
      looked.push(n);
    }
    expect(Math.max(...looked)).toBeLessThanOrEqual(40);
    expect(looked.reduce((a, b) => a + b, 0)).toBe(2000);
    network.add("eth0.1500");
    await clock.advance(1000);
    expect(states).toContain("eth0.1500 waiting (interface recreated)");
  });

  it("closes the socket of a scope that is removed, and stops delivering from it", async () => {
    const { network, bindings, datagrams, states } = rig();
    network.add("eth0.10");
    await bindings.update([scope(10)]);
    const first = network.opened[0]!;
    await bindings.update([]);
    first.deliver(Buffer.from("late"));
    expect(first.closed).toBe(true);
    expect(datagrams).toEqual([]);
    expect(states.at(-1)).toBe("eth0.10 closed (scope removed)");
  });
});
