#!/usr/bin/env node
// Entry point for `pirack` / `npx pirack`. Runs the bundle in dist/ (bin/build.mjs; `npm ci` builds it) when it
// was built from the sources as they are; otherwise the TypeScript sources through tsx's loader, which works the
// same and costs ~45 MiB more memory (docs/scale.md). PIRACK_FROM_SOURCE=1 always runs the sources.
import { distProblem, packageRoot } from "./sources.mjs";

const root = packageRoot();
const problem = process.env.PIRACK_FROM_SOURCE === "1" ? "PIRACK_FROM_SOURCE=1" : distProblem(root);
if (problem === undefined) {
  await import("../dist/pirack.mjs");
} else {
  // Said only where it matters: a stale build (an edit or a checkout without `npm run build`), not a missing one.
  if (problem.startsWith("older")) process.stderr.write(`pirack: dist/ is ${problem}; running the sources (npm run build to use the bundle)\n`);
  const { register } = await import("tsx/esm/api");
  register();
  await import("../appliance/cli.ts");
}
