/**
 * Set-up step of the bench's QEMU Pis: fills the cache with the boot artifacts (kernel, firmware, initramfs) and
 * the golden image, or finds them there, and prints what it has and how long each part took.
 *
 *   node --import tsx bench/qemu/prepare.ts [--cache /var/cache/pirack-bench] [--no-image] [--layer web[,db,cdn]] [--json]
 *
 * `--layer` also builds those role layers on the golden image (`pirack workloads build`, cached beside it).
 *
 * Needs root (debootstrap, chroot, binfmt_misc) and the host packages in .ci/apt-packages.
 */
import { parseArgs } from "node:util";
import { DEFAULT_CACHE_DIR, prepareArtifacts } from "./artifacts.ts";
import { ensureGoldenImage } from "./golden.ts";
import { ensureRoleLayer, type RoleLayer } from "./layer.ts";

const { values } = parseArgs({ options: { cache: { type: "string", default: DEFAULT_CACHE_DIR }, "no-image": { type: "boolean", default: false }, json: { type: "boolean", default: false }, layer: { type: "string", default: "" } } });
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

const layers: RoleLayer[] = [];
const roleNames = values.layer.split(",").filter(Boolean);
if (roleNames.length > 0 && !golden) throw new Error("--layer needs the golden image (drop --no-image)");
if (golden && roleNames.length > 0) {
  const { ROLES } = await import("../../workloads/index.ts");
  for (const name of roleNames) {
    const role = ROLES[name as keyof typeof ROLES];
    if (!role) throw new Error(`--layer: unknown role "${name}" (${Object.keys(ROLES).join(", ")})`);
    const layer = await ensureRoleLayer(golden, role, { onLine: (line) => say(`layer ${name}: ${line.slice(0, 160)}`) });
    layers.push(layer);
    say(`layer ${name} ${layer.cacheHit ? "found in the cache" : "built"}: ${layer.path} (${layer.buildSeconds.toFixed(0)} s wall, ${layer.cpuSeconds.toFixed(0)} s CPU; load then: ${layer.loadBefore})`);
  }
}

const summary = { artifacts, artifactSeconds, golden, imageSeconds, layers, totalSeconds: (Date.now() - started) / 1000 };
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
else
  process.stdout.write(
    `artifacts ${artifactSeconds.toFixed(0)} s, golden image ${imageSeconds.toFixed(0)} s, ${layers.map((l) => `layer ${l.role} ${l.cacheHit ? "cached" : `${l.buildSeconds.toFixed(0)} s`}, `).join("")}total ${summary.totalSeconds.toFixed(0)} s\n`,
  );
