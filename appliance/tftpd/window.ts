/**
 * Sender-side block bookkeeping for one read transfer: lockstep (RFC 1350) and windowed (RFC 7440).
 * Pure state machine: it says which blocks to send; the transfer adapter does the sending.
 *
 * Blocks are counted with absolute numbers internally, so files past 65535 blocks work: the wire
 * number is the absolute number modulo 65536 (rollover to 0, what tftp-hpa, atftp, curl and the
 * Pi 4/5 EEPROM since 2025-09 expect: rpi-eeprom#720).
 */

/** A contiguous run of absolute block numbers to send, both ends included. */
export interface BlockRange {
  readonly first: number;
  readonly last: number;
}

/** What an ACK meant: the transfer is done, a new range is due, or the ACK changes nothing. */
export type AckOutcome = { readonly kind: "complete" } | { readonly kind: "send"; readonly range: BlockRange } | { readonly kind: "ignored"; readonly reason: "duplicate" | "out-of-window" };

/** Number of DATA packets a file needs: a final short block always ends it, empty if size is a block multiple. */
export const blockCount = (size: number, blockSize: number): number => Math.floor(size / blockSize) + 1;

/** Block bookkeeping of one transfer. */
export class SendWindow {
  /** Highest absolute block the client acknowledged; -1 while an OACK waits for its ACK 0. */
  private acked: number;
  /** Highest absolute block handed out for sending so far. */
  private sent = 0;

  /** `awaitingOack` is true when the transfer opened with an OACK (RFC 2347: the client answers ACK 0). */
  constructor(
    readonly totalBlocks: number,
    readonly windowSize: number,
    awaitingOack: boolean,
  ) {
    this.acked = awaitingOack ? -1 : 0;
  }

  /** True while the OACK has not been acknowledged yet. */
  get awaitingOack(): boolean {
    return this.acked < 0;
  }

  /** Highest block the client confirmed (0 before any DATA was acknowledged). */
  get ackedBlocks(): number {
    return Math.max(0, this.acked);
  }

  /** The range to (re)send now: everything from the block after the last ACK, up to one window. */
  current(): BlockRange {
    const first = this.acked + 1;
    const range = { first, last: Math.min(this.acked + this.windowSize, this.totalBlocks) };
    if (range.last > this.sent) this.sent = range.last;
    return range;
  }

  /**
   * Applies an ACK carrying 16-bit `wireBlock`. Only an ACK for a block after the last one
   * acknowledged and not beyond what was sent moves the transfer on. Repeats and stale ACKs are
   * ignored, which is what stops the Sorcerer's Apprentice bug (RFC 1123 §4.2.3.1): a duplicate ACK
   * never triggers a duplicate DATA. A partial ACK inside a window restarts the window after it
   * (RFC 7440 §4).
   */
  onAck(wireBlock: number): AckOutcome {
    const base = this.acked;
    const block = base + (((wireBlock & 0xffff) - (base & 0xffff) + 0x10000) & 0xffff);
    if (block === base) return { kind: "ignored", reason: "duplicate" };
    if (block > this.sent) return { kind: "ignored", reason: "out-of-window" };
    this.acked = block;
    if (block >= this.totalBlocks) return { kind: "complete" };
    return { kind: "send", range: this.current() };
  }
}
