/**
 * Headless Chromium for the page tests (test/integration/dashboard.test.ts), driven by
 * playwright-core: Debian's `chromium` package, installed here with apt-get when it is missing
 * (CI's .ci/run installs it before the tests; a developer machine gets it on the first run).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Where Debian's chromium package puts the browser. */
export const chromiumPath = "/usr/bin/chromium";

/** How long installing may take (the package and its libraries are a large download). */
export const chromiumInstallMs = 600_000;

/** The browser's path, installing Debian's package first when it is missing; throws one line saying what failed. */
export function ensureChromium(): string {
  if (existsSync(chromiumPath)) return chromiumPath;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "chromium"]]) {
    const r = spawnSync("apt-get", args, { env, encoding: "utf8", timeout: chromiumInstallMs });
    if (r.status !== 0) {
      const why = (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`).trim().split("\n").at(-1);
      throw new Error(`${chromiumPath} is missing and \`apt-get ${args.join(" ")}\` failed (${why}); install Debian's chromium package`);
    }
  }
  if (!existsSync(chromiumPath)) throw new Error(`apt-get installed chromium but ${chromiumPath} is not there`);
  return chromiumPath;
}
