/**
 * Option negotiation (RFC 2347) for blksize (RFC 2348), tsize and timeout (RFC 2349) and windowsize
 * (RFC 7440). Pure: the caller supplies the request's options and the server's limits.
 */

/** Server-side bounds for what a client may negotiate. */
export interface OptionLimits {
  /** Largest block size granted; 1468 keeps DATA in one 1500-byte Ethernet frame (1468 + 4 + 8 + 20). */
  readonly maxBlockSize: number;
  /** Largest window granted (RFC 7440); 1 turns windowing off. */
  readonly maxWindowSize: number;
  /** Retransmit timeout used when the client does not ask for one. */
  readonly defaultTimeoutMs: number;
  /**
   * The server's idle limit: a transfer without progress ends after this long whatever was negotiated,
   * so a `timeout` this long or longer could never produce a retransmission and is left out of the OACK.
   */
  readonly idleTimeoutMs: number;
}

/** What a transfer runs with after negotiation; `oack` is empty when no option was accepted. */
export interface Negotiated {
  readonly blockSize: number;
  readonly windowSize: number;
  readonly timeoutMs: number;
  /** OACK entries in the client's order; `tsize` carries the file size. */
  readonly oack: ReadonlyArray<readonly [string, string]>;
  /** Options that were asked for but not granted, with the reason (for debug logs). */
  readonly ignored: ReadonlyArray<{ readonly name: string; readonly value: string; readonly reason: string }>;
}

/** RFC 1350's fixed block size, used when blksize is not negotiated. */
export const DEFAULT_BLOCK_SIZE = 512;

// RFC 2348 §2: valid blksize values are 8..65464 octets.
const MIN_BLOCK_SIZE = 8;
const MAX_BLOCK_SIZE = 65464;

const parseDecimal = (value: string): number | null => (/^[0-9]{1,10}$/.test(value) ? Number(value) : null);

/**
 * Negotiates the options of one RRQ. Only options the client asked for are answered (RFC 2347 §3);
 * names arrive lower-cased from the codec. Invalid values are left out of the OACK rather than
 * failing the request, so the client falls back to RFC 1350 defaults. A later duplicate of an
 * option is ignored: the first occurrence wins.
 */
export function negotiateOptions(
  requested: ReadonlyArray<readonly [string, string]>,
  fileSize: number,
  limits: OptionLimits,
): Negotiated {
  let blockSize = DEFAULT_BLOCK_SIZE;
  let windowSize = 1;
  let timeoutMs = limits.defaultTimeoutMs;
  const oack: [string, string][] = [];
  const ignored: { name: string; value: string; reason: string }[] = [];
  const seen = new Set<string>();
  for (const [name, value] of requested) {
    if (seen.has(name)) {
      ignored.push({ name, value, reason: "duplicate option" });
      continue;
    }
    seen.add(name);
    const n = parseDecimal(value);
    switch (name) {
      case "blksize":
        // RFC 2348: a server may answer with a smaller block size than requested, never a larger one.
        // Values above 65464 are clamped like any other oversize request; below 8 cannot be honoured.
        if (n === null || n < MIN_BLOCK_SIZE) {
          ignored.push({ name, value, reason: `expected ${MIN_BLOCK_SIZE}..${MAX_BLOCK_SIZE}` });
          break;
        }
        blockSize = Math.min(n, limits.maxBlockSize, MAX_BLOCK_SIZE);
        oack.push([name, String(blockSize)]);
        break;
      case "tsize":
        // RFC 2349 §4: in an RRQ the client sends 0 and the server answers with the file size.
        oack.push([name, String(fileSize)]);
        break;
      case "timeout":
        // RFC 2349 §3: 1..255 seconds; the server must echo the exact value or leave it out.
        if (n === null || n < 1 || n > 255) {
          ignored.push({ name, value, reason: "expected 1..255 seconds" });
          break;
        }
        if (n * 1000 >= limits.idleTimeoutMs) {
          ignored.push({ name, value, reason: `expected less than the idle limit of ${limits.idleTimeoutMs / 1000} s` });
          break;
        }
        timeoutMs = n * 1000;
        oack.push([name, String(n)]);
        break;
      case "windowsize":
        // RFC 7440 §3: 1..65535 blocks; the server may answer with a smaller window.
        if (n === null || n < 1 || n > 65535) {
          ignored.push({ name, value, reason: "expected 1..65535 blocks" });
          break;
        }
        if (limits.maxWindowSize <= 1) {
          ignored.push({ name, value, reason: "windowsize disabled" });
          break;
        }
        windowSize = Math.min(n, limits.maxWindowSize);
        oack.push([name, String(windowSize)]);
        break;
      default:
        ignored.push({ name, value, reason: "unknown option" });
    }
  }
  return { blockSize, windowSize, timeoutMs, oack, ignored };
}
