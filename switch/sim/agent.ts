/**
 * The simulated PoE switch as a real SNMP agent on UDP: `net-snmp`'s Agent does BER, v2c communities and
 * SNMPv3 USM (SHA/AES); the four request methods are replaced so requests are answered from the model's view
 * and SETs go through the whole-PDU rules in `set-rules.ts`. This sidesteps the Agent's MIB-provider bugs
 * (reference §4.4: binary OctetString SETs corrupted, createAndGo stored as 4, no rollback).
 */
import dgram, { type RemoteInfo, type Socket } from "node:dgram";
import snmp, { type Agent, type RequestMessage, type Session, type User, type Varbind } from "net-snmp";
import type { Logger } from "pino";
import { IfMib, Notification } from "../oids.ts";
import { SimSwitchModel, type SimEvent, type SimModelOptions } from "./model.ts";
import { simProfile, type SimProfile, type SimProfileName } from "./profiles.ts";
import { applySet, SetError, type SetVarbind } from "./set-rules.ts";
import { buildView, nextIndex, oidParts, type ViewEntry } from "./view.ts";
import { SimFaults } from "./faults.ts";

/** An SNMPv3 user of the simulator (always authPriv SHA/AES). */
export interface SimV3User {
  readonly name: string;
  readonly authKey: string;
  readonly privKey: string;
}

/** Where link traps go: v2c with a community, or v3 with a user. */
export interface SimTrapTarget {
  readonly host: string;
  readonly port: number;
  readonly community?: string;
  readonly user?: SimV3User;
}

/** Options of `SimulatedSwitch.start`. */
export interface SimSwitchOptions {
  readonly profile: SimProfileName;
  readonly ports: number;
  readonly address?: string;
  /** UDP port; 0 picks a free one. */
  readonly port?: number;
  readonly readCommunity?: string;
  readonly writeCommunity?: string;
  readonly v3Users?: readonly SimV3User[];
  readonly trapTargets?: readonly SimTrapTarget[];
  readonly log?: Logger;
  readonly model?: Omit<SimModelOptions, "profile" | "ports">;
  /** Changes to the named profile (odd numberings, other validation) for tests. */
  readonly profileOverrides?: Partial<SimProfile>;
}

const NoSuchObject = 128;
const NoSuchInstance = 129;
const EndOfMibView = 130;
/** Cap on varbinds in one GETBULK response, keeps datagrams well under 64 KiB. */
const maxBulkVarbinds = 400;

/** A running simulated switch. */
export class SimulatedSwitch {
  readonly model: SimSwitchModel;
  readonly faults = new SimFaults();
  private readonly agent: Agent;
  private readonly socket: Socket;
  private readonly access = new Map<string, "ro" | "rw">();
  private readonly v3Names = new Set<string>();
  private readonly trapSessions: Session[] = [];
  private viewCache: { revision: number; view: ViewEntry[] } | null = null;
  private readonly delayed = new Set<NodeJS.Timeout>();
  private readonly log: Logger | undefined;

  private constructor(opts: SimSwitchOptions, agent: Agent, socket: Socket, model: SimSwitchModel) {
    this.agent = agent;
    this.socket = socket;
    this.model = model;
    this.log = opts.log;
    this.access.set(opts.readCommunity ?? "public", "ro");
    this.access.set(opts.writeCommunity ?? "private", "rw");
    for (const u of opts.v3Users ?? []) this.v3Names.add(u.name);
    for (const t of opts.trapTargets ?? []) this.addTrapTarget(t);
    model.on("event", (e) => this.onModelEvent(e));
    const handle = (s: Socket, m: RequestMessage, r: RemoteInfo): void => this.handle(s, m, r);
    agent.getRequest = handle;
    agent.setRequest = handle;
    agent.getNextRequest = handle;
    agent.getBulkRequest = handle;
  }

  /** Starts the agent and resolves once its socket is bound. */
  static async start(opts: SimSwitchOptions): Promise<SimulatedSwitch> {
    const model = new SimSwitchModel({ ...opts.model, profile: { ...simProfile(opts.profile), ...opts.profileOverrides }, ports: opts.ports });
    let socket: Socket | undefined;
    // net-snmp's Listener turns port 0 into 161; a wrapped dgram module binds the port we really want.
    const dgramModule = {
      createSocket(type: "udp4" | "udp6"): Socket {
        const s = dgram.createSocket(type);
        const bind = s.bind.bind(s);
        (s as { bind: unknown }).bind = (_port: number, address?: string) => bind(opts.port ?? 0, address);
        socket = s;
        return s;
      },
    };
    const agent = snmp.createAgent(
      { port: opts.port || 1, address: opts.address ?? "127.0.0.1", accessControlModelType: snmp.AccessControlModelType.None, dgramModule },
      (err) => {
        if (err) opts.log?.debug({ err }, "simulator request dropped");
      },
    );
    const s = socket as Socket | undefined;
    if (!s) throw new Error("simulator socket was not created");
    await new Promise<void>((resolve, reject) => {
      s.once("listening", resolve);
      s.once("error", reject);
    });
    const auth = agent.getAuthorizer();
    auth.addCommunity(opts.readCommunity ?? "public");
    auth.addCommunity(opts.writeCommunity ?? "private");
    for (const u of opts.v3Users ?? []) {
      auth.addUser({
        name: u.name,
        level: snmp.SecurityLevel.authPriv,
        authProtocol: snmp.AuthProtocols.sha,
        authKey: u.authKey,
        privProtocol: snmp.PrivProtocols.aes,
        privKey: u.privKey,
      } as User);
    }
    return new SimulatedSwitch(opts, agent, s, model);
  }

  /** The bound UDP address. */
  address(): { address: string; port: number } {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  /** Adds a receiver for link traps. */
  addTrapTarget(t: SimTrapTarget): void {
    const session = t.user
      ? snmp.createV3Session(
          t.host,
          { name: t.user.name, level: snmp.SecurityLevel.authPriv, authProtocol: snmp.AuthProtocols.sha, authKey: t.user.authKey, privProtocol: snmp.PrivProtocols.aes, privKey: t.user.privKey },
          { trapPort: t.port },
        )
      : snmp.createSession(t.host, t.community ?? "public", { version: snmp.Version2c, trapPort: t.port });
    session.on("error", (err) => this.log?.warn({ err }, "simulator trap session error"));
    this.trapSessions.push(session);
  }

  /** Stops the agent, the trap sessions and the model's timers. */
  async close(): Promise<void> {
    this.model.close();
    for (const t of this.delayed) clearTimeout(t);
    for (const s of this.trapSessions) s.close();
    await new Promise<void>((resolve) => this.agent.close(() => resolve()));
  }

  private view(): ViewEntry[] {
    if (this.viewCache?.revision !== this.model.revision) this.viewCache = { revision: this.model.revision, view: buildView(this.model) };
    // sysUpTime moves without a revision bump; read() substitutes the live value.
    return this.viewCache.view;
  }

  private onModelEvent(e: SimEvent): void {
    if (e.kind !== "link") return;
    // linkUp/linkDown (RFC 2863 §6): ifIndex, ifAdminStatus, ifOperStatus of the port.
    const varbinds: Varbind[] = [
      { oid: `${Notification.ifIndex}.${e.ifIndex}`, type: snmp.ObjectType.Integer, value: e.ifIndex },
      { oid: `${IfMib.ifAdminStatus}.${e.ifIndex}`, type: snmp.ObjectType.Integer, value: 1 },
      { oid: `${IfMib.ifOperStatus}.${e.ifIndex}`, type: snmp.ObjectType.Integer, value: e.up ? 1 : 2 },
    ];
    for (const s of this.trapSessions) {
      s.trap(e.up ? Notification.linkUp : Notification.linkDown, varbinds, { upTime: this.model.uptimeTicks() }, (err) => {
        if (err) this.log?.warn({ err }, "simulator trap not sent");
      });
    }
  }

  private handle(socket: Socket, message: RequestMessage, rinfo: RemoteInfo): void {
    try {
      const principal = message.version === snmp.Version3 ? message.user?.name : message.community;
      const level = message.version === snmp.Version3 ? (principal && this.v3Names.has(principal) ? "rw" : undefined) : this.access.get(principal ?? "");
      // Unknown principals get silence, like a real agent with a wrong community (reference §4.2).
      if (!level) return;
      const kind = message.pdu.type === snmp.PduType.SetRequest ? "set" : "get";
      const fault = this.faults.onRequest(kind, message.pdu.varbinds.map((v) => v.oid));
      if (fault.drop) return;
      const respond = (): void => {
        try {
          this.respond(socket, message, rinfo, level, fault.nonSticky, fault.reject);
        } catch (err) {
          // A delayed answer may find the socket closed; never let that kill the process.
          this.log?.warn({ err }, "simulator answer not sent");
        }
      };
      if (fault.delayMs > 0) {
        const t = setTimeout(() => {
          this.delayed.delete(t);
          respond();
        }, fault.delayMs);
        this.delayed.add(t);
      } else respond();
    } catch (err) {
      // A bad request must never kill the simulator (reference §4.4 item 7).
      this.log?.error({ err }, "simulator request failed");
    }
  }

  private respond(socket: Socket, message: RequestMessage, rinfo: RemoteInfo, level: "ro" | "rw", nonSticky: boolean, reject: number | null): void {
    const pdu = message.pdu;
    const response = pdu.getResponsePduForRequest();
    response.errorStatus = 0;
    response.errorIndex = 0;
    if (pdu.type === snmp.PduType.SetRequest) {
      const varbinds = pdu.varbinds.map((v) => ({ oid: v.oid, type: v.type ?? 0, value: v.value }));
      response.varbinds = varbinds;
      if (level !== "rw") Object.assign(response, { errorStatus: SetError.noAccess, errorIndex: 1 });
      else if (reject !== null) Object.assign(response, { errorStatus: reject, errorIndex: 1 });
      else {
        const outcome = applySet(this.model, varbinds as SetVarbind[], !nonSticky);
        if (outcome.status !== SetError.noError) this.log?.debug({ status: outcome.status, reason: outcome.reason }, "simulator set refused");
        else this.model.emit("event", { kind: "set", oids: varbinds.map((v) => v.oid) });
        Object.assign(response, { errorStatus: outcome.status, errorIndex: outcome.index });
      }
    } else {
      response.varbinds = this.read(pdu.type, pdu.varbinds, pdu.nonRepeaters, pdu.maxRepetitions);
    }
    this.agent.sendResponse(socket, rinfo, message, response);
  }

  private read(type: number, requested: Varbind[], nonRepeaters: number, maxRepetitions: number): Varbind[] {
    const view = this.view();
    const entry = (e: ViewEntry | undefined, fallbackOid: string): Varbind =>
      e ? { oid: e.oid, type: e.type, value: e.oid === "1.3.6.1.2.1.1.3.0" ? this.model.uptimeTicks() : e.value } : { oid: fallbackOid, type: EndOfMibView, value: null };
    const next = (oid: string): Varbind => entry(view[nextIndex(view, oidParts(oid))], oid);
    if (type === snmp.PduType.GetRequest) {
      return requested.map((v) => {
        const parts = oidParts(v.oid);
        const i = nextIndex(view, parts) - 1;
        const hit = view[i];
        if (hit && hit.oid === parts.join(".")) return entry(hit, v.oid);
        return { oid: v.oid, type: v.oid.startsWith("1.3.6.1.2.1.") ? NoSuchInstance : NoSuchObject, value: null };
      });
    }
    if (type === snmp.PduType.GetNextRequest) return requested.map((v) => next(v.oid));
    // GETBULK (RFC 3416 §4.2.3): non-repeaters once, then repeaters row by row.
    const n = Math.max(0, Math.min(nonRepeaters, requested.length));
    const out = requested.slice(0, n).map((v) => next(v.oid));
    const cursors = requested.slice(n).map((v) => v.oid);
    for (let r = 0; r < maxRepetitions && cursors.length > 0 && out.length < maxBulkVarbinds; r++) {
      let allEnd = true;
      for (let c = 0; c < cursors.length; c++) {
        const vb = next(cursors[c] as string);
        out.push(vb);
        if (vb.type !== EndOfMibView) {
          cursors[c] = vb.oid;
          allEnd = false;
        }
      }
      if (allEnd) break;
    }
    return out;
  }
}
