// Two projects: unit tests sit next to the code and need no privileges; integration tests build
// network namespaces and start real peers, so they need root and run fewer at a time.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // In CI a JSON report is written as well, so .ci/run can print a plain "N passed, N failed" closing line.
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    ...(process.env.CI ? { outputFile: { json: ".ci/results.json" } } : {}),
    projects: [
      {
        test: {
          name: "unit",
          include: ["lib/**/*.test.ts", "appliance/**/*.test.ts", "rootfs/**/*.test.ts", "switch/**/*.test.ts", "workloads/**/*.test.ts", "bench/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: "forks",
          maxWorkers: 2,
          // Runs after the unit project, so heavy namespace suites never compete with it for the two cores.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
