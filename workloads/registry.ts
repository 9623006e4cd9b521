/** Every role pirack knows, by name (its own file so the controllers can use it without importing index.ts). */
import { cdnRole } from "./cdn/index.ts";
import { dbRole } from "./db/index.ts";
import type { RoleRegistry } from "./render.ts";
import { webRole } from "./web/index.ts";

/** Every role pirack knows, by name. */
export const ROLES: RoleRegistry = { web: webRole, db: dbRole, cdn: cdnRole };
