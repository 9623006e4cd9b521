// Worker entry: registers tsx in this thread (pirack runs TypeScript without a build step), then loads the
// TypeScript worker. Registering again under `node --import tsx` is harmless.
import { register } from "tsx/esm/api";

register();
await import("./config-worker.ts");
