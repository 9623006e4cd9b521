/**
 * `--sysroot` and `paths.*`: under a sysroot, paths the operator did not write in rack.yaml (the defaults
 * /export, /srv/pirack/images, /var/lib/pirack) move inside it too, so a test or the bench never creates them on
 * the host; a path written in rack.yaml is the operator's choice and is kept as given.
 */
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Config } from "./config.ts";

const PATH_KEYS = ["exports", "images", "state"] as const;

/** Which `paths.*` keys the YAML text sets explicitly (unparsable text: none). */
export function explicitPaths(yamlText: string): Set<string> {
  try {
    const raw = parseYaml(yamlText) as { paths?: Record<string, unknown> } | null;
    const paths = raw?.paths;
    return new Set(typeof paths === "object" && paths !== null ? Object.keys(paths) : []);
  } catch {
    return new Set(); // the config parser reports the syntax error itself
  }
}

/** The config with the defaulted `paths.*` moved under `sysroot` ("/" changes nothing). */
export function withSysrootPaths(config: Config, yamlText: string, sysroot: string): Config {
  if (resolve(sysroot) === "/") return config;
  const explicit = explicitPaths(yamlText);
  const paths = { ...config.paths };
  for (const key of PATH_KEYS) if (!explicit.has(key)) paths[key] = join(sysroot, config.paths[key]);
  return Object.freeze({ ...config, paths: Object.freeze(paths) });
}
