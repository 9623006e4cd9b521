/**
 * Periodic upkeep over thousands of items in slices, so no turn of the event loop does all of it: checking 4,000
 * interfaces' indexes at once (if_nametoindex: a socket, an ioctl and a close each) held DHCP and TFTP packets for
 * ~100 ms every 2 s. A round still visits every item once per period: a slice per tick, ticks spread over the
 * period, slices of at least `minSlice` items, larger only when the ticks would come closer than their floor.
 */
export class RoundRobin {
  private at = 0;

  constructor(readonly minSlice = 16) {}

  /** How long between ticks so that `count` items in slices of `minSlice` fill `periodMs` (never under `minMs`). */
  intervalMs(count: number, periodMs: number, minMs: number): number {
    const slices = Math.max(1, Math.ceil(count / this.minSlice));
    return Math.max(Math.min(minMs, periodMs), Math.floor(periodMs / slices));
  }

  /**
   * The next slice of `items` for a tick every `tickMs` (so that a round takes `periodMs`); all of them when they
   * fit one slice. `roundDone` when the slice reached the end.
   */
  next<T>(items: readonly T[], periodMs: number, tickMs: number): { readonly slice: readonly T[]; readonly roundDone: boolean } {
    const size = Math.max(this.minSlice, Math.ceil((items.length * tickMs) / periodMs));
    if (items.length <= size) {
      this.at = 0;
      return { slice: items, roundDone: true };
    }
    if (this.at >= items.length) this.at = 0;
    const slice = items.slice(this.at, this.at + size);
    this.at += slice.length;
    return { slice, roundDone: this.at >= items.length };
  }
}
