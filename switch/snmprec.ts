/**
 * `.snmprec` codec (snmpsim's recording format, one `oid|tag|value` a line; tag `4x` = hex OCTET STRING) and a
 * read-only `SnmpReader` over a recording, so discovery can run against walks of real switches.
 */
import type { Varbind } from "net-snmp";
import { DecodeError } from "../lib/errors.ts";
import type { SnmpReader } from "./snmp-client.ts";
import { compareOid, oidParts } from "./oids.ts";

/** Parses a recording into varbinds in OID order; throws `DecodeError` naming the bad line. */
export function decodeSnmprec(text: string): Varbind[] {
  const out: { vb: Varbind; parts: number[] }[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] ?? "").replace(/\r$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const first = line.indexOf("|");
    const second = line.indexOf("|", first + 1);
    if (first < 0 || second < 0) throw new DecodeError("SNMPREC_BAD_LINE", `line ${n + 1}: expected oid|tag|value, got ${JSON.stringify(line.slice(0, 60))}`);
    const oid = line.slice(0, first);
    const tag = line.slice(first + 1, second);
    const raw = line.slice(second + 1);
    const hex = tag.endsWith("x");
    const type = Number(hex ? tag.slice(0, -1) : tag);
    if (!/^\d+(\.\d+)+$/.test(oid) || !Number.isInteger(type)) throw new DecodeError("SNMPREC_BAD_LINE", `line ${n + 1}: bad oid or tag in ${JSON.stringify(line.slice(0, 60))}`);
    out.push({ vb: { oid, type, value: decodeValue(type, raw, hex) }, parts: oidParts(oid) });
  }
  return out.sort((a, b) => compareOid(a.parts, b.parts)).map((e) => e.vb);
}

function decodeValue(type: number, raw: string, hex: boolean): unknown {
  if (type === 4 || type === 68) return hex ? Buffer.from(raw, "hex") : Buffer.from(raw, "utf8");
  if (type === 6 || type === 64) return raw;
  // Recordings hold empty values for some counters (HP 2530 dot1qPvid): keep them as "no value".
  if (raw === "") return null;
  return Number(raw);
}

/** Serves GET/walk from a decoded recording. */
export function snmprecReader(varbinds: readonly Varbind[]): SnmpReader {
  const byOid = new Map(varbinds.map((v) => [v.oid, v]));
  return {
    get: async (oids) => oids.map((oid) => byOid.get(oid) ?? { oid, type: 129, value: null }),
    walk: async (oid) => varbinds.filter((v) => v.oid.startsWith(oid + ".")),
  };
}
