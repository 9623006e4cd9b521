// Where pirack's sources are, and whether dist/ (bin/build.mjs) was built from the sources as they are now.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The directories whose TypeScript is bundled into dist/. */
const SOURCE_DIRS = ["appliance", "lib", "rootfs", "switch", "workloads"];

/** The package's root directory (this file is in bin/). */
export const packageRoot = () => dirname(dirname(fileURLToPath(import.meta.url)));

/** The most recently modified source file (.ts or .mjs) under the source directories, and bin/build.mjs. */
export function newestSource(root) {
  let newest = { path: join(root, "bin/build.mjs"), mtimeMs: statSync(join(root, "bin/build.mjs")).mtimeMs };
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile() && /\.(ts|mjs)$/.test(e.name)) {
        const mtimeMs = statSync(path).mtimeMs;
        if (mtimeMs > newest.mtimeMs) newest = { path, mtimeMs };
      }
    }
  };
  for (const d of SOURCE_DIRS) walk(join(root, d));
  return newest;
}

/**
 * Why dist/ cannot be run as it is (undefined: it can): missing, or older than a source file. A build records the
 * newest source's time it saw; any source newer than that means an edit or a checkout since.
 */
export function distProblem(root) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, "dist/build.json"), "utf8"));
    statSync(join(root, "dist/pirack.mjs"));
  } catch {
    return "missing";
  }
  const now = newestSource(root);
  return now.mtimeMs > stamp.newestSourceMs ? `older than ${now.path.slice(root.length + 1)}` : undefined;
}
