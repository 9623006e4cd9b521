/** Worker thread of `loadConfigFileOffThread`: parses and validates the text it is given, posts the result once. */
import { parentPort, workerData } from "node:worker_threads";
import { parseConfigText } from "./config.ts";

parentPort!.postMessage(parseConfigText(workerData as string));
