/** Rendering progress events as one terminal line (pure); the CLI redraws it with `\r`. */
import type { Progress } from "./types.ts";

/**
 * One line for a progress event: `port 1 copy [######......]  45% 128/285 MB` when bytes are
 * known, else `port 1 clone: cloning with snapshot`. `width` is the bar's width in characters.
 */
export function renderProgressLine(p: Progress, width = 30): string {
  const who = p.port === undefined ? "" : `port ${p.port} `;
  if (p.bytesTotal === undefined || p.bytesDone === undefined || p.bytesTotal <= 0) return `${who}${p.phase}: ${p.message}`;
  const fraction = Math.min(1, Math.max(0, p.bytesDone / p.bytesTotal));
  const filled = Math.round(fraction * width);
  const mb = (n: number) => (n / 1e6).toFixed(0);
  return `${who}${p.phase} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${mb(p.bytesDone)}/${mb(p.bytesTotal)} MB`;
}
