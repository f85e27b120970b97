import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Compiles the commands into dist/ when a source changed: tests start them from there.
    globalSetup: ["./test/lib/build-setup.ts"],
    // Child processes, not worker threads: native addons (RocksDB) and process-wide state
    // (signals, handles of real servers) stay isolated per test file.
    pool: "forks",
    // Generous: integration tests start real processes. Tests assert eventual outcomes
    // with their own deadlines (test/lib/wait.ts); these limits only catch hangs.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // A flaky test is a bug to fix (or a seed to replay), never something to retry.
    retry: 0,
    reporters: ["default", "./test/lib/summary-reporter.ts"],
    // Vitest's default is one file at a time on a 2-core machine (cores - 1). The unit files
    // (the simulator's seeds above all) keep one core busy each and start no daemons: two of
    // them run at once, first. Then the files that start real processes, one at a time as
    // before: each starts clusters of up to a dozen daemons, and two such files at once on 2
    // cores would each wait on the other's processes.
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: "integration", include: ["test/**/*.test.ts"], exclude: ["test/unit/**"], maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
