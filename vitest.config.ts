import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
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
  },
});
