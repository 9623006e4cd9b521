/** Writes the controller's upstream file into CDN Pi roots (the adapter behind `CdnControllerDeps.writeUpstream`). */
import { writeRootFile } from "../../rootfs/customise.ts";
import { UPSTREAM_FILE } from "./render.ts";

/** A writer that puts `content` atomically at UPSTREAM_FILE in every given root (the CDN Pis' exports). */
export const upstreamWriter =
  (roots: readonly string[]) =>
  async (content: string): Promise<void> => {
    await Promise.all(roots.map((root) => writeRootFile(root, { path: UPSTREAM_FILE.slice(1), text: content, mode: 0o644 })));
  };
