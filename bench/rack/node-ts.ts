/** How the bench starts its own TypeScript entry points as processes (tsx's loader, found from this checkout). */
import { packagePath } from "../../lib/package-root.ts";

const TSX = import.meta.resolve("tsx");

/** `node --import tsx <script> ...args` as a command and arguments; `script` is relative to the repository. */
export function nodeTs(script: string, args: readonly string[]): { cmd: string; args: string[] } {
  const path = packagePath(script);
  return { cmd: process.execPath, args: ["--import", TSX, path, ...args] };
}

/** Absolute path of a file in the repository. */
export const repoPath = (rel: string): string => packagePath(rel);
