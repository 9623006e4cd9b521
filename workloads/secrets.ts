/**
 * The cluster's generated secrets (database passwords, WordPress salts): one JSON file, mode 0600, under
 * `paths.state`. Generated once, kept across restarts and re-renders; values are never logged (callers log names).
 */
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { OperationError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs-atomic.ts";
import type { SecretSpec, Secrets } from "./role.ts";

/** The secrets file inside `paths.state`. */
export const secretsPath = (stateDir: string): string => join(stateDir, "workloads", "secrets.json");

/** What `loadOrCreateSecrets` did: the values, and the names it generated now. */
export interface SecretsResult {
  readonly secrets: Secrets;
  readonly created: readonly string[];
}

/** Reads the secrets file without changing it: the values, and which of `specs` are not generated yet. */
export async function readSecrets(stateDir: string, specs: readonly SecretSpec[]): Promise<{ secrets: Secrets; missing: readonly string[] }> {
  const stored = await readStored(secretsPath(stateDir));
  return { secrets: stored, missing: specs.filter((s) => stored[s.name] === undefined).map((s) => s.name) };
}

async function readStored(path: string): Promise<Record<string, string>> {
  let stored: Record<string, string> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== "string")) {
      throw new OperationError("SECRETS_INVALID", `${path} must be a JSON object of strings; refusing to replace it (move it aside to regenerate)`);
    }
    stored = parsed as Record<string, string>;
  } catch (err) {
    if (err instanceof SyntaxError) throw new OperationError("SECRETS_INVALID", `${path} is not valid JSON; refusing to replace it (move it aside to regenerate)`, { cause: err });
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return stored;
}

/** Reads the secrets file, generating (and saving, 0600) any of `specs` missing from it. */
export async function loadOrCreateSecrets(stateDir: string, specs: readonly SecretSpec[], random: (n: number) => Buffer = cryptoRandomBytes): Promise<SecretsResult> {
  const path = secretsPath(stateDir);
  const stored = await readStored(path);
  const created: string[] = [];
  for (const s of specs) {
    if (stored[s.name] !== undefined) continue;
    // URL-safe base64 without padding: safe inside PHP single quotes, SQL string literals and my.cnf values.
    stored[s.name] = random(s.bytes).toString("base64url");
    created.push(s.name);
  }
  if (created.length > 0) {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, `${JSON.stringify(stored, null, 2)}\n`, 0o600);
    await chmod(path, 0o600);
  }
  return { secrets: stored, created };
}
