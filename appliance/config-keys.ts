/** Schema introspection for config messages: which keys a mapping inside the zod schema allows. */
import { z } from "zod";

/** The keys a mapping at `path` inside `schema` allows (for a union, the options `value` can be), or undefined. */
export function allowedKeysAt(schema: z.ZodType, path: readonly PropertyKey[], value: unknown): string[] | undefined {
  let inner = schema;
  while (["prefault", "default", "optional", "pipe"].includes(inner._zod.def.type)) {
    const def = inner._zod.def as unknown as { innerType?: z.ZodType; in?: z.ZodType };
    inner = (def.innerType ?? def.in)!;
  }
  const [head, ...rest] = path;
  const field = (k: PropertyKey | undefined) => (typeof value === "object" && value !== null && k !== undefined ? (value as Record<PropertyKey, unknown>)[k] : undefined);
  if (inner instanceof z.ZodArray) return typeof head === "number" ? allowedKeysAt(inner.element as z.ZodType, rest, field(head)) : undefined;
  if (inner instanceof z.ZodUnion) {
    // A discriminated option (snmp version "2c" or "3") whose literal fields match the value; all when none do.
    const fits = (o: z.ZodType) =>
      !(o instanceof z.ZodObject) ||
      Object.entries(o.shape as Record<string, z.ZodType>).every(([k, f]) => !(f instanceof z.ZodLiteral) || f.values.has(field(k) as never));
    const options = (inner.options as z.ZodType[]).filter(fits);
    const keys = (options.length ? options : (inner.options as z.ZodType[])).flatMap((o) => allowedKeysAt(o, path, value) ?? []);
    return keys.length ? [...new Set(keys)] : undefined;
  }
  if (!(inner instanceof z.ZodObject)) return undefined;
  const shape = inner.shape as Record<string, z.ZodType>;
  if (head === undefined) return Object.keys(shape);
  const next = shape[String(head)];
  return next ? allowedKeysAt(next, rest, field(head)) : undefined;
}
