#!/usr/bin/env node
// Entry point for `pirack` / `npx pirack`: runs the TypeScript CLI through tsx's loader, no build step.
import { register } from "tsx/esm/api";

register();
await import("../appliance/cli.ts");
