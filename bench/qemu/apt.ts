/**
 * A private arm64 apt configuration: its own sources, lists, cache and an empty dpkg status, all under one
 * directory, so `apt-get download` of arm64 packages works on an amd64 host without `dpkg --add-architecture`.
 * Adding the architecture would change the host's package state for every later `apt-get update` and install
 * (other jobs on the same machine included); this touches nothing outside its directory.
 */
import { execa } from "execa";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../../lib/errors.ts";

/** Where Debian's archive is; read from the host's deb822 sources when present. */
export interface ArchiveSources {
  readonly main: string;
  readonly security: string;
}

/** Debian's own archive, used when the host's sources name no other mirror. */
export const DEBIAN_ARCHIVE: ArchiveSources = { main: "http://deb.debian.org/debian", security: "http://deb.debian.org/debian-security" };

/** The first `URIs:` of the host's main and security stanzas (`/etc/apt/sources.list.d/debian.sources`). */
export function parseHostSources(deb822: string): ArchiveSources {
  const stanzas = deb822.split(/\n\s*\n/);
  const uriOf = (s: string) => /^URIs:\s*(\S+)/m.exec(s)?.[1];
  const security = stanzas.find((s) => /^Suites:.*-security/m.test(s));
  const main = stanzas.find((s) => s !== security && uriOf(s));
  return { main: (main && uriOf(main)) ?? DEBIAN_ARCHIVE.main, security: (security && uriOf(security)) ?? DEBIAN_ARCHIVE.security };
}

/**
 * The private sources file: bookworm with its updates and security suites; `non-free-firmware` holds
 * raspi-firmware (Debian moved firmware there in bookworm).
 */
export function renderArm64Sources(s: ArchiveSources, suite = "bookworm"): string {
  const stanza = (uri: string, suites: string) =>
    `Types: deb\nURIs: ${uri}\nSuites: ${suites}\nComponents: main non-free-firmware\nArchitectures: arm64\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`;
  return `${stanza(s.main, `${suite} ${suite}-updates`)}\n${stanza(s.security, `${suite}-security`)}`;
}

/** A package at the exact version the archive offers now. */
export interface PackageVersion {
  readonly name: string;
  readonly version: string;
}

/** Reads `Version:` and `Depends:` of the candidate from `apt-cache show --no-all-versions` output. */
export function parseShow(text: string): { version: string | undefined; depends: string[] } {
  const version = /^Version:\s*(\S+)/m.exec(text)?.[1];
  const depends = (/^Depends:\s*(.*)$/m.exec(text)?.[1] ?? "").split(",").map((d) => d.trim().split(/\s/)[0] ?? "").filter(Boolean);
  return { version, depends };
}

/** An arm64 apt state directory; `update()` once, then look packages up and download them. */
export class Arm64Apt {
  private readonly options: string[];

  constructor(private readonly dir: string) {
    this.options = [
      "-o", "APT::Architecture=arm64",
      "-o", "APT::Architectures=arm64",
      "-o", `Dir::State=${join(dir, "state")}`,
      "-o", `Dir::State::Lists=${join(dir, "state/lists")}`,
      "-o", "Dir::State::status=/dev/null",
      "-o", `Dir::Cache=${join(dir, "cache")}`,
      "-o", "Dir::Etc::SourceList=/dev/null",
      "-o", `Dir::Etc::SourceParts=${join(dir, "sources")}`,
      "-o", "Debug::NoLocking=1",
      // No Translation files: only Packages lists are needed to resolve and download.
      "-o", "Acquire::Languages=none",
    ];
  }

  /** Writes the sources (from the host's mirror) and fetches the package lists. */
  async update(sourcesFile = "/etc/apt/sources.list.d/debian.sources"): Promise<void> {
    const host = await readFile(sourcesFile, "utf8").catch(() => "");
    for (const d of ["sources", "state/lists/partial", "cache/archives/partial"]) await mkdir(join(this.dir, d), { recursive: true });
    await writeFile(join(this.dir, "sources/arm64.sources"), renderArm64Sources(parseHostSources(host)));
    await this.run("apt-get", ["update", "-qq"]);
  }

  /** The candidate version of `name` and the packages it depends on. */
  async show(name: string): Promise<PackageVersion & { depends: string[] }> {
    return (await this.showAll([name]))[0]!;
  }

  /** `show` for several packages in one apt-cache run (each run reads every list: seconds on a busy host). */
  async showAll(names: readonly string[]): Promise<(PackageVersion & { depends: string[] })[]> {
    const out = await this.run("apt-cache", ["show", "--no-all-versions", ...names]);
    const records = out.split(/\n\s*\n/).filter((r) => /^Package:/m.test(r));
    return names.map((name) => {
      const record = records.find((r) => new RegExp(`^Package: ${name.replace(/[.+]/g, "\\$&")}$`, "m").test(r)) ?? "";
      const { version, depends } = parseShow(record);
      if (!version) throw new OperationError("APT_NO_CANDIDATE", `expected an arm64 candidate for ${name}, apt-cache show printed none`);
      return { name, version, depends };
    });
  }

  /** Downloads exact versions into `outDir` (those not there already); returns each package's .deb path. */
  async download(pkgs: readonly PackageVersion[], outDir: string): Promise<Map<string, string>> {
    await mkdir(outDir, { recursive: true });
    // apt-get download names files <name>_<version, ':' as %3a>_<arch>.deb; the arch is arm64 or all.
    const prefixOf = (p: PackageVersion) => `${p.name}_${p.version.replace(/:/g, "%3a")}_`;
    const have = await readdir(outDir);
    const missing = pkgs.filter((p) => !have.some((f) => f.startsWith(prefixOf(p)) && f.endsWith(".deb")));
    if (missing.length) await this.run("apt-get", ["download", "-qq", ...missing.map((p) => `${p.name}=${p.version}`)], outDir);
    const files = await readdir(outDir);
    const out = new Map<string, string>();
    for (const p of pkgs) {
      const prefix = prefixOf(p);
      const file = files.find((f) => f.startsWith(prefix) && f.endsWith(".deb"));
      if (!file) throw new OperationError("APT_DOWNLOAD_MISSING", `expected ${prefix}*.deb in ${outDir} after apt-get download, found ${files.join(", ")}`);
      out.set(p.name, join(outDir, file));
    }
    return out;
  }

  private async run(file: string, args: string[], cwd?: string): Promise<string> {
    const r = await execa(file, [...this.options, ...args], { reject: false, ...(cwd ? { cwd } : {}) });
    if (r.exitCode !== 0) throw new OperationError("APT_FAILED", `${file} ${args.join(" ")} exited with ${r.exitCode}: ${r.stderr.trim().slice(-2000)}`);
    return r.stdout;
  }
}
