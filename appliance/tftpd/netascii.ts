/**
 * netascii transfer mode (RFC 1350 §5, RFC 764): the file goes out with every LF as CR LF and every
 * bare CR as CR NUL. Pure. Pis only use octet; this exists so a netascii client gets a correct file.
 */

const CR = 0x0d;
const LF = 0x0a;

/** Converts local (Unix) text bytes to netascii; returns the input itself when nothing changes. */
export function toNetascii(data: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === CR || data[i] === LF) extra++;
  if (extra === 0) return data;
  const out = Buffer.allocUnsafe(data.length + extra);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (b === CR) {
      out[o++] = CR;
      out[o++] = 0;
    } else out[o++] = b;
  }
  return out;
}
