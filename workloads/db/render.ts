/** Every file of a db Pi, as the role framework writes them (paths relative to the Pi's root). */
import type { RenderedFile } from "../role.ts";
import { layoutFiles } from "./layout.ts";
import { renderClientConfigs, renderInitParams, renderInitSql, renderReplicaSql, renderServerConfig } from "./render-server.ts";
import { renderHealthScript, renderInitScript, renderPrepareScript } from "./render-scripts.ts";
import { renderDbUnits } from "./render-units.ts";
import { checkDbValues, type DbNodeValues } from "./values.ts";

/**
 * Renders a db Pi's files. `root` is where the layout's absolute paths start ("" for a Pi, whose root is "/";
 * a temporary directory in tests); returned paths are relative to it.
 */
export function renderDbFiles(v: DbNodeValues, root = ""): RenderedFile[] {
  checkDbValues(v);
  const f = layoutFiles(v.layout);
  const rel = (abs: string): string => {
    if (!abs.startsWith(`${root}/`)) throw new Error(`db path ${abs} is not under ${root || "/"}`);
    return abs.slice(root.length + 1);
  };
  const clients = renderClientConfigs(v);
  const files: RenderedFile[] = [
    { path: rel(v.layout.serverConfig), content: renderServerConfig(v), mode: 0o644 },
    { path: rel(f.localClient), content: clients.localClient, mode: 0o600 },
    { path: rel(f.healthClient), content: clients.healthClient, mode: 0o640, group: "mysql", secret: true },
    { path: rel(f.cloneClient), content: clients.cloneClient, mode: 0o600, secret: true },
    { path: rel(f.initSql), content: renderInitSql(v), mode: 0o600, secret: true },
    { path: rel(f.initParams), content: renderInitParams(v), mode: 0o644 },
    { path: rel(f.healthScript), content: renderHealthScript(v), mode: 0o755 },
    { path: rel(f.prepareScript), content: renderPrepareScript(v), mode: 0o755 },
    { path: rel(f.initScript), content: renderInitScript(v), mode: 0o755 },
  ];
  if (v.initialRole === "replica") files.push({ path: rel(f.replicaSql), content: renderReplicaSql(v), mode: 0o600, secret: true });
  for (const [name, content] of Object.entries(renderDbUnits(v))) files.push({ path: `etc/systemd/system/${name}`, content, mode: 0o644 });
  return files;
}
