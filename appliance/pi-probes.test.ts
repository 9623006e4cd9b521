import { afterEach, describe, expect, it } from "vitest";
import { createServer, connect, type Server, type Socket } from "node:net";
import { readFile } from "node:fs/promises";
import { answersSsh, clientOfNfsdInfo, clientsOfPort, clientsOfRmtab, PiProbes } from "./pi-probes.ts";

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function listen(onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer(onConnection);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as { port: number }).port;
}

describe("clientsOfPort", () => {
  it("finds the remote address of an established connection in the kernel's own /proc/net/tcp", async () => {
    const port = await listen((s) => sockets.push(s));
    const client = connect({ host: "127.0.0.1", port });
    sockets.push(client);
    await new Promise((r) => client.once("connect", r));
    const table = await readFile("/proc/net/tcp", "utf8");
    expect(clientsOfPort(table, port)).toEqual(new Set(["127.0.0.1"]));
    expect(clientsOfPort(table, 1)).toEqual(new Set());
  });

  it("decodes the little-endian hex words and skips other states", () => {
    const text = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 01BD2E0A:0801 02BD2E0A:036C 01 00000000:00000000 00:00000000 00000000     0        0 1",
      "   1: 05BD2E0A:0801 06BD2E0A:036D 06 00000000:00000000 00:00000000 00000000     0        0 2",
      "   2: 00000000:0801 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3",
    ].join("\n");
    expect(clientsOfPort(text, 2049)).toEqual(new Set(["10.46.189.2"]));
  });
});

describe("kernel NFS client lists", () => {
  it("reads rmtab and nfsd client info", () => {
    expect(clientsOfRmtab("10.46.189.2:/export/10.46.189.2:0x00000001\n10.46.189.6:/export/10.46.189.6:0x00000002\n")).toEqual(
      new Set(["10.46.189.2", "10.46.189.6"]),
    );
    expect(clientOfNfsdInfo('clientid: 0x1\naddress: "10.46.189.6:876"\nname: "Linux NFSv4.2 pi"\n')).toBe("10.46.189.6");
  });
});

describe("answersSsh", () => {
  it("is true for an SSH identification line and false for anything else or nobody", async () => {
    const ssh = await listen((s) => s.end("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"));
    const http = await listen((s) => s.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    expect(await answersSsh("127.0.0.1", ssh, 2000)).toBe(true);
    expect(await answersSsh("127.0.0.1", http, 2000)).toBe(false);
    const closed = await listen(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    expect(await answersSsh("127.0.0.1", closed, 2000)).toBe(false);
  });
});

describe("PiProbes", () => {
  it("marks nfs for a mounted Pi and up for one whose sshd answers, leaving the others", async () => {
    const seen: [number, string][] = [];
    const probes = new PiProbes(
      {
        ports: () => [
          { port: 1, piAddress: "10.46.189.2", stage: "kernel" },
          { port: 2, piAddress: "10.46.189.6", stage: "firmware" },
          { port: 3, piAddress: "10.46.189.10", stage: "up" },
          { port: 4, piAddress: "10.46.189.14", stage: "unseen" },
        ],
        record: (port, stage) => seen.push([port, stage]),
        nfsClients: async () => new Set(["10.46.189.2", "10.46.189.10"]),
        answers: async (a) => a === "10.46.189.2",
      },
      { pollMs: 1000 },
    );
    await probes.once();
    expect(seen).toEqual([
      [1, "nfs"],
      [1, "up"],
    ]);
  });
});
