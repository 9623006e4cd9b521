import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VersionedReads } from "../lib/file-versions.ts";
import { renderMachineId, renderRootFiles } from "./render.ts";
import { RootStore } from "./roots.ts";
import { seedPiSpec } from "./testing/seed-pi.ts";

const quiet = { info: () => {}, warn: () => {}, debug: () => {} };

/** Counts the reads that reach the files (a version cache hit costs none). */
class CountingReads extends VersionedReads {
  readsDone = 0;
  override read(path: string, read: (path: string) => Promise<string | undefined>, group?: string): Promise<string | undefined> {
    return super.read(path, (p) => (this.readsDone++, read(p)), group);
  }
}

describe("RootStore.observe with a version cache kept across passes", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-observe-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("sees the same root without reading its files again, and sees a Pi's edit to one of them", async () => {
    const specs = [1, 2, 3].map((port) => seedPiSpec(port, join(dir, "export")));
    for (const spec of specs) {
      for (const f of renderRootFiles(spec)) {
        await mkdir(join(spec.exportPath, f.path, ".."), { recursive: true });
        await writeFile(join(spec.exportPath, f.path), f.text);
      }
      await writeFile(join(spec.exportPath, "etc/machine-id"), renderMachineId(Buffer.alloc(16, spec.port)));
    }
    // Ten minutes ahead: the files just written count as old enough to trust their versions.
    const reads = new CountingReads(1000, () => Date.now() + 600_000);
    const store = () => new RootStore({ imagePath: join(dir, "golden") }, { log: quiet, run: async () => ({ exitCode: 0, stdout: "", stderr: "" }), reads });
    const first = await store().observe(specs);
    expect(store().plan(specs, first).filter((a) => a.kind === "writeRootFile")).toEqual([]);
    expect(first.every((o) => o.hasMachineId)).toBe(true);

    // Four rendered files and the machine-id per root; the layer record is missing (the golden image): not read.
    expect(reads.readsDone).toBe(15);
    const second = await store().observe(specs);
    expect(second).toEqual(first);
    expect(reads.readsDone).toBe(15);

    // The Pi's root user edits its hostname in place: the next pass reads it and plans the repair.
    await writeFile(join(specs[1]!.exportPath, "etc/hostname"), "mine\n");
    const third = await store().observe(specs);
    expect(reads.readsDone).toBe(16);
    expect(third[1]!.files["etc/hostname"]).toBe("mine\n");
    expect(store().plan(specs, third).filter((a) => a.kind === "writeRootFile").map((a) => a.port)).toEqual([2]);
  });
});
