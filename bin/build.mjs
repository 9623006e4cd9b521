#!/usr/bin/env node
// `npm run build` (also run by `npm ci` / `npm install`, as `prepare`): bundles the TypeScript sources into
// dist/ with esbuild, so `bin/pirack.mjs` runs plain JavaScript. Running through tsx's loader costs a second
// JavaScript thread (Node 20 runs loader hooks off the main thread) and ~45 MiB of RSS for the daemon's
// lifetime (docs/scale.md). Three bundles, one per thread's entry point; npm packages stay in node_modules.
// The bundles sit one directory below the package root, like appliance/, so paths the code takes relative to
// its own file (../package.json, ../examples/, ./config-worker.mjs) mean the same in both.
import { build } from "esbuild";
import { rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { newestSource, packageRoot } from "./sources.mjs";

const root = packageRoot();
const out = join(root, "dist");
const tmp = join(root, `.dist-${process.pid}`);
const started = Date.now();
// The newest source before the build: a source saved during the build leaves the build stale, as it should.
const sources = newestSource(root);
try {
  await build({
    absWorkingDir: root,
    entryPoints: {
      pirack: "appliance/cli.ts",
      "config-worker": "appliance/config-worker.ts",
      "transfer-worker": "appliance/tftpd/transfer-worker.ts",
    },
    outdir: tmp,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    // A bundled ESM file has no require(); some packages' CommonJS code paths expect one.
    banner: { js: 'import { createRequire as __pirackCreateRequire } from "node:module"; const require = __pirackCreateRequire(import.meta.url);' },
    logLevel: "warning",
  });
  await writeFile(join(tmp, "build.json"), `${JSON.stringify({ builtAt: new Date().toISOString(), newestSourceMs: sources.mtimeMs, newestSource: sources.path })}\n`);
  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  console.error(`pirack: built dist/ in ${Date.now() - started} ms`);
} catch (err) {
  await rm(tmp, { recursive: true, force: true });
  console.error(`pirack: build failed: ${err.message}`);
  process.exit(1);
}
