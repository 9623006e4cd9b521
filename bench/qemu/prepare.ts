/**
 * Set-up step of the bench's QEMU Pis: fills the cache with the boot artifacts (kernel, firmware, initramfs) and
 * the golden image, or finds them there, and prints what it has and how long each part took.
 *
 *   node --import tsx bench/qemu/prepare.ts [--cache /var/cache/pirack-bench] [--no-image] [--json]
 *
 * Needs root (debootstrap, chroot, binfmt_misc) and the host packages in .ci/apt-packages.
 */
import { parseArgs } from "node:util";
import { DEFAULT_CACHE_DIR, prepareArtifacts } from "./artifacts.ts";
import { ensureGoldenImage } from "./golden.ts";

const { values } = parseArgs({ options: { cache: { type: "string", default: DEFAULT_CACHE_DIR }, "no-image": { type: "boolean", default: false }, json: { type: "boolean", default: false } } });
const started = Date.now();
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s]`;
const say = (line: string) => {
  if (!values.json) process.stderr.write(`${stamp()} ${line}\n`);
};

let t = Date.now();
const artifacts = await prepareArtifacts({ cacheDir: values.cache, onStep: (s) => say(`artifacts: ${s}`) });
const artifactSeconds = (Date.now() - t) / 1000;
say(`artifacts ${artifacts.cacheHit ? "found in the cache" : "built"}: ${artifacts.firmwareDir} (${artifacts.packages.map((p) => `${p.name}=${p.version}`).join(", ")})`);

t = Date.now();
const golden = values["no-image"]
  ? undefined
  : await ensureGoldenImage({
      cacheDir: values.cache,
      onLine: (line) => {
        if (/^(debootstrap|second-stage|finalise|done):/.test(line) && !/Unpacking|Validating|Retrieving/.test(line)) say(`image: ${line}`);
      },
    });
const imageSeconds = (Date.now() - t) / 1000;
if (golden) say(`golden image ${golden.cacheHit ? "found in the cache" : "built"}: ${golden.path}`);

const summary = { artifacts, artifactSeconds, golden, imageSeconds, totalSeconds: (Date.now() - started) / 1000 };
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
else process.stdout.write(`artifacts ${artifactSeconds.toFixed(0)} s, golden image ${imageSeconds.toFixed(0)} s, total ${summary.totalSeconds.toFixed(0)} s\n`);
