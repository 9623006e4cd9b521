import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { NotFoundError } from "../../lib/errors.ts";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { dhcpFixture } from "../../test/support/dhcpd-fixtures.ts";
import type { DhcpClock as Clock } from "./interface-bindings.ts";
import { createDhcpPacket, decodeDhcpPacket, encodeDhcpPacket } from "./codec.ts";
import type { DhcpNetwork, DhcpSocket } from "./device-socket.ts";
import type { DhcpInterfaceEvent, DhcpReplyEvent, DhcpRequestEvent } from "./events.ts";
import { messageTypeOf, type MacAddress } from "./option-values.ts";
import type { DhcpScope, DhcpSettings } from "./policy.ts";
import { DhcpServer } from "./server.ts";

/** A manual clock: timers fire only on `advance`. */
class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => void this.timers.delete(h as number);
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
      await flush();
    }
    this.t = end;
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

interface Sent {
  iface: string;
  bytes: Buffer;
  port: number;
  address: string;
}

/** Interfaces as a name -> ifindex map; sockets record what they send. */
class FakeNetwork implements DhcpNetwork {
  readonly interfaces = new Map<string, number>();
  readonly sent: Sent[] = [];
  readonly neighbours: string[] = [];
  readonly open = new Map<string, { handler?: (b: Buffer, source?: string) => void; closed: boolean }>();
  /** Kernel drop counters by inode (each socket's inode is its ifindex here). */
  readonly drops = new Map<number, number>();
  receiveDrops = () => this.drops;
  private nextIndex = 100;
  add(name: string): void {
    this.interfaces.set(name, this.nextIndex++);
  }
  interfaceIndex = (name: string) => this.interfaces.get(name);
  async openSocket(name: string): Promise<DhcpSocket> {
    if (!this.interfaces.has(name)) throw new NotFoundError("DHCP_INTERFACE_MISSING", `interface ${name} does not exist`);
    const state: { handler?: (b: Buffer, source?: string) => void; closed: boolean } = { closed: false };
    this.open.set(name, state);
    return {
      inode: this.interfaces.get(name),
      onMessage: (h) => (state.handler = h),
      onError: () => undefined,
      send: async (bytes, port, address) => void this.sent.push({ iface: name, bytes, port, address }),
      close: () => (state.closed = true),
    };
  }
  async setNeighbour(iface: string, address: string, mac: MacAddress): Promise<void> {
    this.neighbours.push(`${iface} ${address} ${mac}`);
  }
  deliver(name: string, bytes: Buffer, source?: string): void {
    const s = this.open.get(name);
    if (s && !s.closed) s.handler?.(bytes, source);
  }
}

const scopes: DhcpScope[] = [
  { port: 1, vlan: 10, interfaceName: "eth0.10", serverAddress: "10.46.189.1", clientAddress: "10.46.189.2", netmask: "255.255.255.252" },
  { port: 2, vlan: 11, interfaceName: "eth0.11", serverAddress: "10.46.189.5", clientAddress: "10.46.189.6", netmask: "255.255.255.252" },
];

async function setup(settings: Partial<DhcpSettings> = { pi3OfferDelayMs: 0 }, ifaces = ["eth0.10", "eth0.11"], log = pino({ level: "silent" })) {
  const clock = new FakeClock();
  const network = new FakeNetwork();
  for (const i of ifaces) network.add(i);
  const metrics = new MetricsRegistry();
  const server = new DhcpServer({ log, clock, metrics, network, scopes, settings, interfaceCheckMs: 1000, retry: { initialMs: 1000, maxMs: 8000 } });
  const requests: DhcpRequestEvent[] = [];
  const replies: DhcpReplyEvent[] = [];
  const states: DhcpInterfaceEvent[] = [];
  server.on("request", (e) => requests.push(e));
  server.on("reply", (e) => replies.push(e));
  server.on("interface", (e) => states.push(e));
  await server.start();
  return { clock, network, metrics, server, requests, replies, states };
}

describe("DhcpServer", () => {
  it("answers each interface with its own scope, on that interface's socket", async () => {
    const { network, server, requests } = await setup();
    network.deliver("eth0.10", dhcpFixture("pi4-discover"));
    network.deliver("eth0.11", dhcpFixture("pi5-discover"));
    await flush();
    expect(network.sent.map((s) => [s.iface, s.address, s.port, decodeDhcpPacket(s.bytes).yourAddress])).toEqual([
      ["eth0.10", "255.255.255.255", 68, "10.46.189.2"],
      ["eth0.11", "255.255.255.255", 68, "10.46.189.6"],
    ]);
    expect(requests.map((r) => [r.port, r.vlan, r.mac, r.serial, r.model, r.messageType])).toEqual([
      [1, 10, "dc:a6:32:2e:f8:ed", "5b154510", "4B", "DISCOVER"],
      [2, 11, "d8:3a:dd:12:34:56", "da591740", "5", "DISCOVER"],
    ]);
    await server.stop();
  });

  it("counts malformed packets, drops them without a reply and keeps serving", async () => {
    const { network, metrics, server } = await setup();
    for (const junk of [Buffer.alloc(0), Buffer.from("hello"), dhcpFixture("pi4-discover").subarray(0, 250)]) network.deliver("eth0.10", junk);
    network.deliver("eth0.10", dhcpFixture("pi4-request"));
    await flush();
    expect(metrics.counter("pirack_dhcp_malformed_total", "").get()).toBe(3);
    expect(metrics.counter("pirack_dhcp_replies_total", "").get({ type: "ACK" })).toBe(1);
    expect(metrics.render()).toContain('pirack_dhcp_requests_total{type="REQUEST"} 1');
    await server.stop();
  });

  it("logs a malformed packet as its error code, reason and a hex prefix, without a stack trace", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const { network, server } = await setup(undefined, undefined, log);
    const junk = Buffer.concat([dhcpFixture("pi4-discover").subarray(0, 250), Buffer.alloc(60_000, 0x41)]);
    network.deliver("eth0.10", junk.subarray(0, 250));
    await flush();
    const line = lines.find((l) => l.msg === "malformed packet dropped");
    expect(line).toMatchObject({ iface: "eth0.10", code: expect.stringMatching(/^DHCP_/), bytes: 250, hex: junk.subarray(0, 32).toString("hex") });
    expect(line).not.toHaveProperty("err");
    expect(JSON.stringify(line).length).toBeLessThan(500);
    await server.stop();
  });

  it("gives a request whose IP source is outside the arrival interface's subnet no identity event and no address", async () => {
    const { network, metrics, server, requests } = await setup();
    // Port 1's Pi address arriving on port 2's interface: spoofed, sent across VLANs, or a Pi moved to another port.
    network.deliver("eth0.11", dhcpFixture("pi4-discover"), "10.46.189.9");
    const renewing = encodeDhcpPacket(
      createDhcpPacket({ op: 1, transactionId: 7, clientHardwareAddress: Buffer.from("dca6322ef8ed", "hex"), clientAddress: "10.46.189.2", options: [[53, Buffer.from([3])]] }),
    );
    network.deliver("eth0.11", renewing, "10.46.189.2");
    await flush();
    expect(requests).toEqual([]);
    // The DISCOVER gets nothing; the renewing REQUEST its NAK, so a moved Pi restarts at once.
    expect(network.sent.map((x) => [x.iface, messageTypeOf(decodeDhcpPacket(x.bytes))])).toEqual([["eth0.11", "NAK"]]);
    expect(metrics.counter("pirack_dhcp_wrong_source_total", "").get({ iface: "eth0.11" })).toBe(2);
    expect(metrics.counter("pirack_dhcp_ignored_total", "").get({ reason: "wrong-source" })).toBe(1);
    network.sent.length = 0;
    // No address yet (0.0.0.0) or the interface's own /30: served, and the event names the arrival port.
    network.deliver("eth0.11", dhcpFixture("pi4-discover"), "0.0.0.0");
    network.deliver("eth0.10", dhcpFixture("pi4-request"), "10.46.189.2");
    await flush();
    expect(requests.map((r) => [r.port, r.interfaceName, r.messageType])).toEqual([
      [2, "eth0.11", "DISCOVER"],
      [1, "eth0.10", "REQUEST"],
    ]);
    await server.stop();
  });

  it("counts the kernel's receive-buffer drops per interface from the socket's own counter", async () => {
    const { clock, network, metrics, server } = await setup();
    const drops = () => metrics.counter("pirack_dhcp_receive_buffer_drops_total", "");
    network.drops.set(network.interfaces.get("eth0.10")!, 7);
    await clock.advance(1000);
    expect([drops().get({ iface: "eth0.10" }), drops().get({ iface: "eth0.11" })]).toEqual([7, 0]);
    network.drops.set(network.interfaces.get("eth0.10")!, 10);
    network.drops.set(network.interfaces.get("eth0.11")!, 1);
    await clock.advance(1000);
    expect([drops().get({ iface: "eth0.10" }), drops().get({ iface: "eth0.11" })]).toEqual([10, 1]);
    await server.stop();
  });

  it("a throwing event listener does not stop the reply", async () => {
    const { network, server } = await setup();
    server.on("request", () => {
      throw new Error("listener bug");
    });
    network.deliver("eth0.10", dhcpFixture("pi4-discover"));
    await flush();
    expect(network.sent).toHaveLength(1);
    await server.stop();
  });

  it("delays the OFFER to a Pi 3 by the configured time", async () => {
    const { network, clock, server } = await setup({ pi3OfferDelayMs: 1000 });
    network.deliver("eth0.10", dhcpFixture("pi3-family-discover"));
    await flush();
    expect(network.sent).toHaveLength(0);
    await clock.advance(999);
    expect(network.sent).toHaveLength(0);
    await clock.advance(1);
    expect(network.sent).toHaveLength(1);
    await server.stop();
  });

  it("in unicast mode pins the neighbour once, then unicasts to .2", async () => {
    const { network, server } = await setup({ replyAddressing: "unicast", pi3OfferDelayMs: 0 });
    network.deliver("eth0.10", dhcpFixture("pi4-discover"));
    await flush();
    network.deliver("eth0.10", dhcpFixture("pi4-request"));
    await flush();
    expect(network.neighbours).toEqual(["eth0.10 10.46.189.2 dc:a6:32:2e:f8:ed"]);
    expect(network.sent.map((s) => `${s.address}:${s.port}`)).toEqual(["10.46.189.2:68", "10.46.189.2:68"]);
    await server.stop();
  });

  it("remembers a Pi so its OS's plain REQUEST still counts as a Pi when non-Pis are ignored", async () => {
    const { network, server } = await setup({ nonPiClients: "ignore", pi3OfferDelayMs: 0 });
    const discover = Buffer.from(dhcpFixture("pi3-family-discover"));
    discover.set(Buffer.from("020000", "hex"), 28); // not a Pi OUI: only option 97 says "Pi"
    const plainRequest = encodeDhcpPacket(
      createDhcpPacket({ op: 1, transactionId: 7, clientHardwareAddress: discover.subarray(28, 34), options: [[53, Buffer.from([3])], [50, Buffer.from([10, 46, 189, 2])]] }),
    );
    network.deliver("eth0.10", plainRequest);
    await flush();
    expect(network.sent).toHaveLength(0); // unknown MAC, no Pi evidence: ignored
    network.deliver("eth0.10", discover);
    network.deliver("eth0.10", plainRequest);
    await flush();
    expect(network.sent.map((s) => messageTypeOf(decodeDhcpPacket(s.bytes)))).toEqual(["OFFER", "ACK"]);
    await server.stop();
  });

  it("retries a missing interface with backoff and serves it once it appears", async () => {
    const { network, clock, server, states } = await setup(undefined, ["eth0.10"]);
    expect(states.filter((s) => s.interfaceName === "eth0.11").map((s) => s.state)).toEqual(["waiting"]);
    await clock.advance(3000);
    network.add("eth0.11");
    await clock.advance(5000);
    expect(states.filter((s) => s.interfaceName === "eth0.11").map((s) => s.state)).toEqual(["waiting", "open"]);
    network.deliver("eth0.11", dhcpFixture("pi5-discover"));
    await flush();
    expect(network.sent.map((s) => s.iface)).toEqual(["eth0.11"]);
    await server.stop();
  });

  it("reopens an interface that was deleted and recreated", async () => {
    const { network, clock, server, states } = await setup();
    const oldSocket = network.open.get("eth0.10")!;
    network.interfaces.delete("eth0.10");
    network.add("eth0.10"); // new ifindex
    await clock.advance(1000);
    expect(oldSocket.closed).toBe(true);
    expect(network.open.get("eth0.10")).not.toBe(oldSocket);
    expect(states.filter((s) => s.interfaceName === "eth0.10").map((s) => s.state)).toEqual(["open", "waiting", "open"]);
    network.deliver("eth0.10", dhcpFixture("pi4-discover"));
    await flush();
    expect(network.sent).toHaveLength(1);
    await server.stop();
  });

  it("updateScopes opens new interfaces and closes removed ones on a live server", async () => {
    const { network, server, states } = await setup(undefined, ["eth0.10", "eth0.11", "eth0.12"]);
    const eth11 = network.open.get("eth0.11")!;
    await server.updateScopes([
      scopes[0]!,
      { port: 3, vlan: 12, interfaceName: "eth0.12", serverAddress: "10.46.189.9", clientAddress: "10.46.189.10", netmask: "255.255.255.252" },
    ]);
    expect(eth11.closed).toBe(true);
    expect(states.slice(-2).map((s) => `${s.interfaceName} ${s.state}`)).toEqual(["eth0.11 closed", "eth0.12 open"]);
    network.deliver("eth0.12", dhcpFixture("pi4-discover"));
    await flush();
    expect(decodeDhcpPacket(network.sent[0]!.bytes).yourAddress).toBe("10.46.189.10");
    await server.stop();
  });
});

describe("DhcpServer unicast fallback", () => {
  it("broadcasts when the neighbour entry cannot be set, and counts it", async () => {
    const { network, metrics, server } = await setup({ replyAddressing: "unicast", pi3OfferDelayMs: 0 });
    network.setNeighbour = async () => {
      throw new Error("RTNETLINK answers: Operation not permitted");
    };
    network.deliver("eth0.10", dhcpFixture("pi4-discover"));
    await flush();
    expect(network.sent.map((s) => `${s.address}:${s.port}`)).toEqual(["255.255.255.255:68"]);
    expect(metrics.counter("pirack_dhcp_neighbour_errors_total", "").get()).toBe(1);
    await server.stop();
  });
});
