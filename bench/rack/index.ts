/** The bench rack's public surface: `pirack bench` calls `runBench`. */
export { BenchInterrupted, BenchUsageError, runBench, type BenchRunOptions } from "./run.ts";
export { parseModels, PI_MODELS, type BenchPiModel } from "./layout.ts";
