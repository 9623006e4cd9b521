/**
 * The package's root directory (the one holding pirack's package.json), found from this module's file upwards.
 * The same from the sources (lib/) and from the bundle (dist/pirack.mjs, bin/build.mjs), where every module
 * shares one file: a path relative to a module's own file (`../../bin/pirack.mjs`) means something else there.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

/** Absolute path of a file in the package (`bin/pirack.mjs`, `appliance/dashboard/app.js`). */
export const packagePath = (relative: string): string => join(PACKAGE_ROOT, relative);
