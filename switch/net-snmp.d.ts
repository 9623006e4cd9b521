/**
 * Types for the parts of `net-snmp` 3.29 that pirack uses. DefinitelyTyped's `@types/net-snmp` is at 3.23
 * and lacks pieces used here (Agent internals, `sendResponse`), so the surface is declared locally.
 */
declare module "net-snmp" {
  import type { Socket, RemoteInfo } from "node:dgram";

  /** One variable binding as sent or received. */
  export interface Varbind {
    oid: string;
    type?: number;
    value?: unknown;
  }

  /** Options shared by v2c and v3 sessions. */
  export interface SessionOptions {
    port?: number;
    retries?: number;
    timeout?: number;
    backoff?: number;
    transport?: "udp4" | "udp6";
    trapPort?: number;
    version?: number;
    idBitsSize?: 16 | 32;
    context?: string;
    engineID?: string | Buffer;
  }

  /** An SNMPv3 user (USM). */
  export interface User {
    name: string;
    level: number;
    authProtocol?: number;
    authKey?: string;
    privProtocol?: number;
    privKey?: string;
  }

  type Callback<T> = (error: Error | null, result: T) => void;

  /** A manager session. */
  export interface Session {
    get(oids: string[], cb: Callback<Varbind[]>): void;
    getNext(oids: string[], cb: Callback<Varbind[]>): void;
    getBulk(oids: string[], nonRepeaters: number, maxRepetitions: number, cb: Callback<(Varbind | Varbind[])[]>): void;
    set(varbinds: Varbind[], cb: Callback<Varbind[]>): void;
    subtree(oid: string, maxRepetitions: number, feed: (varbinds: Varbind[]) => boolean | void, done: (error: Error | null) => void): void;
    trap(typeOrOid: number | string, varbinds: Varbind[], options: Record<string, unknown>, cb: (error: Error | null) => void): void;
    close(): void;
    on(event: "error", listener: (error: Error) => void): void;
    on(event: "close", listener: () => void): void;
  }

  /** Community and user lists of an agent or receiver. */
  export interface Authorizer {
    addCommunity(community: string): void;
    addUser(user: User): void;
    getAccessControlModel(): AccessControlModel;
  }

  /** The "Simple" access control model. */
  export interface AccessControlModel {
    setCommunityAccess(community: string, level: number): void;
    setUserAccess(user: string, level: number): void;
  }

  /** A decoded request PDU as the agent sees it. */
  export interface RequestPdu {
    type: number;
    id: number;
    varbinds: Varbind[];
    nonRepeaters: number;
    maxRepetitions: number;
    getResponsePduForRequest(): ResponsePdu;
  }

  /** A response PDU the agent fills in. */
  export interface ResponsePdu {
    varbinds: Varbind[];
    errorStatus: number;
    errorIndex: number;
  }

  /** A decoded request message. */
  export interface RequestMessage {
    version: number;
    community?: string;
    user?: { name: string };
    pdu: RequestPdu;
  }

  /** The agent; pirack's simulator replaces its four request methods with its own model. */
  export interface Agent {
    getAuthorizer(): Authorizer;
    close(cb?: () => void): void;
    getRequest(socket: Socket, message: RequestMessage, rinfo: RemoteInfo): void;
    setRequest(socket: Socket, message: RequestMessage, rinfo: RemoteInfo): void;
    getNextRequest(socket: Socket, message: RequestMessage, rinfo: RemoteInfo): void;
    getBulkRequest(socket: Socket, message: RequestMessage, rinfo: RemoteInfo): void;
    sendResponse(socket: Socket, rinfo: RemoteInfo, message: RequestMessage, pdu: ResponsePdu): void;
  }

  /** A trap/inform receiver. */
  export interface Receiver {
    getAuthorizer(): Authorizer;
    close(cb?: () => void): void;
  }

  /** What a receiver hands to its callback for every notification. */
  export interface Notification {
    pdu: { type: number; varbinds: Varbind[]; community?: string; user?: string };
    rinfo: RemoteInfo;
  }

  /** Options for agents and receivers. */
  export interface ListenerOptions {
    port?: number;
    address?: string | null;
    transport?: "udp4" | "udp6";
    disableAuthorization?: boolean;
    includeAuthentication?: boolean;
    accessControlModelType?: number;
    engineID?: string | Buffer;
    dgramModule?: { createSocket(type: "udp4" | "udp6"): Socket };
  }

  export function createSession(target: string, community: string, options?: SessionOptions): Session;
  export function createV3Session(target: string, user: User, options?: SessionOptions): Session;
  export function createAgent(options: ListenerOptions, cb: (error: Error | null, data: unknown) => void): Agent;
  export function createReceiver(options: ListenerOptions, cb: (error: Error | null, n: Notification | undefined) => void): Receiver;
  export function isVarbindError(vb: Varbind): boolean;
  export function varbindError(vb: Varbind): string;

  export const Version1: number;
  export const Version2c: number;
  export const Version3: number;
  export const ObjectType: Record<string, number> & Record<number, string>;
  export const ErrorStatus: Record<string, number> & Record<number, string>;
  export const PduType: Record<string, number> & Record<number, string>;
  export const SecurityLevel: { noAuthNoPriv: number; authNoPriv: number; authPriv: number };
  export const AuthProtocols: Record<string, number>;
  export const PrivProtocols: Record<string, number>;
  export const AccessControlModelType: { None: number; Simple: number };
  export const AccessLevel: { None: number; ReadOnly: number; ReadWrite: number };

  /** Base of the request errors below. */
  export class RequestFailedError extends Error {
    status: number;
  }
  export class RequestTimedOutError extends Error {}
  export class ResponseInvalidError extends Error {
    code: number;
  }
  export class RequestInvalidError extends Error {}

  const snmp: {
    createSession: typeof createSession;
    createV3Session: typeof createV3Session;
    createAgent: typeof createAgent;
    createReceiver: typeof createReceiver;
    isVarbindError: typeof isVarbindError;
    varbindError: typeof varbindError;
    Version1: number;
    Version2c: number;
    Version3: number;
    ObjectType: typeof ObjectType;
    ErrorStatus: typeof ErrorStatus;
    PduType: typeof PduType;
    SecurityLevel: typeof SecurityLevel;
    AuthProtocols: typeof AuthProtocols;
    PrivProtocols: typeof PrivProtocols;
    AccessControlModelType: typeof AccessControlModelType;
    AccessLevel: typeof AccessLevel;
    RequestFailedError: typeof RequestFailedError;
    RequestTimedOutError: typeof RequestTimedOutError;
    ResponseInvalidError: typeof ResponseInvalidError;
  };
  export default snmp;
}
