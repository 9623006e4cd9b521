import { describe, expect, it } from "vitest";
import { exportSatisfies, parseExportsFile, renderExportsFile } from "./exports-file.ts";
import { parseGaneshaExports, renderGaneshaExportsFile } from "./ganesha-config.ts";
import { describeExportAction, planGaneshaExports, planKernelExports } from "./plan.ts";
import type { ExportAction, ExportSpec, ObservedExports } from "./types.ts";

const FILE = "/etc/exports.d/pirack.exports";
const spec = (n: number): ExportSpec => ({ path: `/export/10.46.189.${4 * n - 2}`, clientAddress: `10.46.189.${4 * n - 2}` });
const liveOf = (specs: ExportSpec[]): ExportSpec[] => specs.map((s) => ({ ...s, options: ["sync", "wdelay", "hide", "no_subtree_check", "sec=sys", "rw", "no_root_squash", "no_all_squash"] }));

describe("planKernelExports", () => {
  const cases: Record<string, { desired: ExportSpec[]; observed: ObservedExports; kinds: ExportAction["kind"][] }> = {
    "nothing yet": { desired: [spec(1)], observed: { file: undefined, fileText: undefined, live: [] }, kinds: ["writeExportsFile", "reloadExports"] },
    "in sync": {
      desired: [spec(1)],
      observed: { file: [spec(1)], fileText: renderExportsFile([spec(1)]), live: liveOf([spec(1)]) },
      kinds: [],
    },
    "file right, never applied": { desired: [spec(1)], observed: { file: [spec(1)], fileText: renderExportsFile([spec(1)]), live: [] }, kinds: ["reloadExports"] },
    "stale live export of ours": {
      desired: [spec(1)],
      observed: { file: [spec(1)], fileText: renderExportsFile([spec(1)]), live: liveOf([spec(1), spec(2)]) },
      kinds: ["reloadExports"],
    },
    "operator's own export left alone": {
      desired: [spec(1)],
      observed: { file: [spec(1)], fileText: renderExportsFile([spec(1)]), live: [...liveOf([spec(1)]), { path: "/srv/home", clientAddress: "192.0.2.9", options: ["rw"] }] },
      kinds: [],
    },
    "hand-edited file": { desired: [spec(1)], observed: { file: [spec(1)], fileText: "# edited\n", live: liveOf([spec(1)]) }, kinds: ["writeExportsFile", "reloadExports"] },
  };
  it.each(Object.entries(cases))("%s", (_n, { desired, observed, kinds }) => {
    const actions = planKernelExports(FILE, desired, observed);
    expect(actions.map((a) => a.kind)).toEqual(kinds);
    for (const a of actions) expect(describeExportAction(a)).toMatch(/write|reload/);
  });

  it("converges from any desired set to any other in one pass (fake exportfs world)", () => {
    // Fake world: the file, and the live table that exportfs -ra makes from it. It rejects a reload
    // that changes nothing, so a planner that reloads needlessly fails here.
    let fileText: string | undefined;
    let live: ExportSpec[] = [];
    const observe = (): ObservedExports => ({ fileText, file: fileText === undefined ? undefined : parseExportsFile(fileText), live });
    const applyAction = (a: ExportAction) => {
      if (a.kind === "writeExportsFile") {
        if (a.text === fileText) throw new Error("rewrote an identical file");
        fileText = a.text;
      } else {
        const next = liveOf(parseExportsFile(fileText ?? ""));
        if (JSON.stringify(next) === JSON.stringify(live)) throw new Error("reload changed nothing");
        live = next;
      }
    };
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let step = 0; step < 200; step++) {
      const desired = [1, 2, 3, 4, 5, 6].filter(() => rnd() < 0.5).map(spec);
      for (const a of planKernelExports(FILE, desired, observe())) applyAction(a);
      expect(planKernelExports(FILE, desired, observe())).toEqual([]);
      for (const d of desired) expect(live.some((l) => exportSatisfies(l, d))).toBe(true);
      expect(live).toHaveLength(desired.length);
    }
  });
});

describe("planGaneshaExports", () => {
  it("writes then reloads, then plans nothing once the reload is recorded", () => {
    const desired = [spec(1), spec(2)];
    const text = renderGaneshaExportsFile(desired);
    expect(planGaneshaExports("/f", desired, { file: undefined, fileText: undefined, live: undefined }).map((a) => a.kind)).toEqual(["writeExportsFile", "reloadExports"]);
    expect(planGaneshaExports("/f", desired, { file: parseGaneshaExports(text), fileText: text, live: undefined }).map((a) => a.kind)).toEqual(["reloadExports"]);
    expect(planGaneshaExports("/f", desired, { file: parseGaneshaExports(text), fileText: text, live: parseGaneshaExports(text), liveText: text })).toEqual([]);
  });

  it("reloads after a removal even though the file is already right", () => {
    const before = renderGaneshaExportsFile([spec(1), spec(2)]);
    const after = renderGaneshaExportsFile([spec(1)]);
    const actions = planGaneshaExports("/f", [spec(1)], { file: parseGaneshaExports(after), fileText: after, live: parseGaneshaExports(before), liveText: before });
    expect(actions).toEqual([{ kind: "reloadExports", server: "ganesha", reason: "file changed since last reload" }]);
  });
});
