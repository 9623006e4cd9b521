/**
 * Worker thread of `loadConfigFileOffThread`: says "ready" once loaded (so the time limit counts parsing only,
 * not this thread's start-up), then parses and validates the one text it is sent and posts the result.
 */
import { parentPort } from "node:worker_threads";
import { parseConfigText } from "./config.ts";

parentPort!.once("message", (text: string) => parentPort!.postMessage(parseConfigText(text)));
parentPort!.postMessage("ready");
