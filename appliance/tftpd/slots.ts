/** The server's transfer slots: one per client address and port, counted per client address. */
import type { TransferHandle } from "./transfer.ts";
import type { TransferRef } from "./types.ts";

/** One request being resolved (`transfer` null) or one transfer in flight. */
export interface Slot {
  ref: TransferRef;
  transfer: TransferHandle | null;
  closed: boolean;
}

/** Slots by `address:port`, with per-address counts for the per-client limit. */
export class SlotTable {
  private readonly slots = new Map<string, Slot>();
  private readonly perClient = new Map<string, number>();

  /** `onActive` receives the number of slots after every change (the active-transfers gauge). */
  constructor(private readonly onActive: (active: number) => void) {}

  get size(): number {
    return this.slots.size;
  }

  /** The slot of one client TID. */
  get(key: string): Slot | undefined {
    return this.slots.get(key);
  }

  /** A snapshot of every slot (safe to release while iterating). */
  all(): Slot[] {
    return [...this.slots.values()];
  }

  /** Slots held by one client address. */
  countFor(address: string): number {
    return this.perClient.get(address) ?? 0;
  }

  /** Takes a slot for `key` (= `address:port`). */
  hold(key: string, slot: Slot): void {
    this.slots.set(key, slot);
    this.perClient.set(slot.ref.client.address, this.countFor(slot.ref.client.address) + 1);
    this.onActive(this.slots.size);
  }

  /** Frees a slot; a second release of the same slot does nothing. */
  release(slot: Slot): void {
    if (slot.closed) return;
    slot.closed = true;
    const key = `${slot.ref.client.address}:${slot.ref.client.port}`;
    if (this.slots.get(key) === slot) this.slots.delete(key);
    const n = this.countFor(slot.ref.client.address) - 1;
    if (n <= 0) this.perClient.delete(slot.ref.client.address);
    else this.perClient.set(slot.ref.client.address, n);
    this.onActive(this.slots.size);
  }

  /**
   * The client's transfer that has gone longest without progress, if that is at least `stalledMs` (a live
   * client acknowledges well within one retransmit timeout); null when every transfer of it is live. A
   * rebooting Pi restarts its fetches and leaves the old transfers behind: these are what a new request replaces.
   */
  mostStalled(address: string, now: number, stalledMs: number): Slot | null {
    let oldest: Slot | null = null;
    for (const slot of this.slots.values()) {
      if (slot.ref.client.address !== address || !slot.transfer) continue;
      if (now - slot.transfer.lastProgressAt < stalledMs) continue;
      if (!oldest || slot.transfer.lastProgressAt < oldest.transfer!.lastProgressAt) oldest = slot;
    }
    return oldest;
  }
}
