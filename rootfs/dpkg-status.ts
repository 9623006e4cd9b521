/** Codec for dpkg's status database (`/var/lib/dpkg/status`, deb822 paragraphs); pure. */

/** One package as the status file records it. */
export interface DpkgPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** `Status:` field, e.g. `install ok installed`. */
  readonly status: string;
}

/**
 * Parses the status file into packages. Continuation lines (starting with a blank) belong to the
 * previous field and are skipped: only single-line fields are needed here (deb-control(5)).
 */
export function parseDpkgStatus(text: string): DpkgPackage[] {
  return text
    .split(/\n\s*\n/)
    .map((para) => {
      const fields: Record<string, string> = {};
      for (const line of para.split("\n")) {
        const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
        if (m && m[1] !== undefined) fields[m[1].toLowerCase()] = m[2] ?? "";
      }
      return fields;
    })
    .filter((f) => f["package"] !== undefined)
    .map((f) => ({ name: f["package"] ?? "", version: f["version"] ?? "", architecture: f["architecture"] ?? "", status: f["status"] ?? "" }));
}

/** Names of packages fully installed (`Status: install ok installed`). */
export function installedPackageNames(packages: readonly DpkgPackage[]): Set<string> {
  return new Set(packages.filter((p) => /\binstalled$/.test(p.status) && !/config-files/.test(p.status)).map((p) => p.name));
}
