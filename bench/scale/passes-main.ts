/**
 * One rack size's in-process phases in a process of its own (so each size starts with a fresh heap and its RSS
 * is its own): `node --import tsx --expose-gc bench/scale/passes-main.ts <ports> <dir> <btrfs mount> <images> [no-roots]`.
 * Prints the figures as one JSON line on stdout.
 */
import { join } from "node:path";
import { measurePasses, prepareRack } from "./passes.ts";

const [ports, dir, fsRoot, images, mode] = process.argv.slice(2);
if (!ports || !dir || !fsRoot || !images) throw new Error("usage: passes-main.ts <ports> <dir> <btrfs mount> <images>");
const n = Number(ports);
const rack = await prepareRack(n, dir, fsRoot, images, mode !== "no-roots");
const figures = await measurePasses(n, rack, join(dir, "appliance.log"));
process.stdout.write(`${JSON.stringify(figures)}\n`);
