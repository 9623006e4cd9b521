/** Test support: a logger that records every call, so tests assert on parsed log records. */

/** One recorded log call. */
export interface LogRecord {
  readonly level: "info" | "warn" | "debug";
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** A logger with the pino call shape, keeping records in memory. */
export function memoryLog(): { log: { info(o: object, m: string): void; warn(o: object, m: string): void; debug(o: object, m: string): void }; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord["level"]) => (fields: object, msg: string) => void records.push({ level, msg, fields: fields as Record<string, unknown> });
  return { log: { info: at("info"), warn: at("warn"), debug: at("debug") }, records };
}
