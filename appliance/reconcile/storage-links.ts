/**
 * The fileserver's storage VLAN interfaces at run time (`eth0.N` with its /30 `.1`), driven with iproute2.
 * Ownership is the link alias `pirack ...`: links pirack did not create are never changed or deleted.
 * The ifupdown files (ManagedFiles) make the same interfaces come back after a reboot.
 */
import type { RackPlan } from "../plan.ts";
import type { Action, Subsystem } from "./reconciler.ts";

/** One storage interface as desired. */
export interface DesiredLink {
  readonly name: string;
  readonly vlan: number;
  readonly address: string; // "10.46.189.1/30"
  readonly alias: string;
}

/** One interface as `ip -j addr show` reported it. */
export interface ObservedLink {
  readonly name: string;
  readonly alias?: string;
  readonly addresses: readonly string[];
  readonly up: boolean;
}

/** Link actions, in the order they are planned. */
export type LinkAction =
  | (Action & { kind: "createLink"; link: DesiredLink })
  | (Action & { kind: "setAddress"; link: DesiredLink; remove: readonly string[] })
  | (Action & { kind: "setUp"; name: string })
  | (Action & { kind: "deleteLink"; name: string });

/** Prefix of the alias that marks a link as pirack's. */
export const LINK_ALIAS_PREFIX = "pirack";

/** Runs `ip` with arguments and returns stdout. */
export type IpRunner = (args: readonly string[]) => Promise<string>;

/** Desired storage links from the plan. */
export function desiredLinks(plan: RackPlan): DesiredLink[] {
  return plan.ports.map((p) => ({
    name: p.interfaceName,
    vlan: p.vlan,
    address: `${p.serverAddress}/${p.prefixLength}`,
    alias: `${LINK_ALIAS_PREFIX} storage vlan ${p.vlan} port ${p.port}`,
  }));
}

/**
 * Joins `ip -j link show` (the only one that reports `ifalias`) with `ip -j addr show` (addresses) into observed
 * links; iproute2 6.1 checked: `addr show` omits the alias.
 */
export function decodeIpJson(linkJson: string, addrJson: string): ObservedLink[] {
  type Row = { ifname: string; ifalias?: string; flags?: string[]; addr_info?: { family: string; local: string; prefixlen: number }[] };
  const addresses = new Map((JSON.parse(addrJson) as Row[]).map((r) => [r.ifname, r.addr_info ?? []]));
  return (JSON.parse(linkJson) as Row[]).map((r) => ({
    name: r.ifname,
    ...(r.ifalias ? { alias: r.ifalias } : {}),
    addresses: (addresses.get(r.ifname) ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
    up: (r.flags ?? []).includes("UP"),
  }));
}

/** Keeps the storage VLAN links present, addressed and up. */
export class StorageLinks implements Subsystem<readonly DesiredLink[], readonly ObservedLink[], LinkAction> {
  readonly name = "storage-links";

  constructor(
    private readonly deps: {
      readonly ip: IpRunner;
      /** Parent of the VLAN devices (`fileserver.interface`), read at apply time so a reload takes effect. */
      readonly parent: () => string;
      /** How a missing link is made: 802.1Q on the parent in production. */
      readonly createArgs?: (link: DesiredLink, parent: string) => string[];
    },
  ) {}

  async observe(): Promise<ObservedLink[]> {
    const links = await this.deps.ip(["-j", "link", "show"]);
    return decodeIpJson(links, await this.deps.ip(["-j", "addr", "show"]));
  }

  plan(desired: readonly DesiredLink[], observed: readonly ObservedLink[]): LinkAction[] {
    const byName = new Map(observed.map((l) => [l.name, l]));
    const actions: LinkAction[] = [];
    for (const link of desired) {
      const seen = byName.get(link.name);
      if (seen && !seen.alias?.startsWith(LINK_ALIAS_PREFIX)) continue; // an operator's interface: left alone
      if (!seen) {
        actions.push({ kind: "createLink", subject: link.name, link, description: `create ${link.name} (VLAN ${link.vlan}) with ${link.address}` });
        continue;
      }
      const stray = seen.addresses.filter((a) => a !== link.address);
      if (stray.length > 0 || !seen.addresses.includes(link.address)) {
        actions.push({ kind: "setAddress", subject: link.name, link, remove: stray, description: `set ${link.name} address ${link.address}` });
      }
      if (!seen.up) actions.push({ kind: "setUp", subject: link.name, name: link.name, description: `bring ${link.name} up` });
    }
    const wanted = new Set(desired.map((l) => l.name));
    for (const l of observed) {
      if (l.alias?.startsWith(LINK_ALIAS_PREFIX) && !wanted.has(l.name)) {
        actions.push({ kind: "deleteLink", subject: l.name, name: l.name, description: `delete ${l.name}` });
      }
    }
    return actions;
  }

  async apply(action: LinkAction): Promise<void> {
    const ip = this.deps.ip;
    switch (action.kind) {
      case "createLink": {
        const l = action.link;
        const create = this.deps.createArgs ?? ((link, parent) => ["link", "add", "link", parent, "name", link.name, "type", "vlan", "id", String(link.vlan)]);
        await ip(create(l, this.deps.parent()));
        await ip(["link", "set", l.name, "alias", l.alias]);
        await ip(["addr", "add", l.address, "dev", l.name]);
        await ip(["link", "set", l.name, "up"]);
        return;
      }
      case "setAddress":
        for (const a of action.remove) await ip(["addr", "del", a, "dev", action.link.name]);
        await ip(["addr", "replace", action.link.address, "dev", action.link.name]);
        return;
      case "setUp":
        await ip(["link", "set", action.name, "up"]);
        return;
      case "deleteLink":
        await ip(["link", "del", action.name]);
        return;
    }
  }
}
