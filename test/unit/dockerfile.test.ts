/**
 * The Dockerfile cannot be built here (no Docker engine), so it is checked in step with the
 * repository: every path a stage copies exists (the build stage's from the checkout, the
 * runtime stage's from the build stage, i.e. after `npm run build`: dist/ is built by the
 * tests' global setup), .dockerignore excludes none of them, the runtime stage installs only
 * production dependencies and runs as a non-root user in the directory the Kubernetes
 * manifests expect, the command it runs exists, and the README gives the same build command.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../deploy/local/process";
import { appDir, k8sDefaults } from "../../deploy/k8s/manifests";

interface Stage {
  readonly name: string;
  readonly base: string;
  readonly lines: string[];
}

/** The Dockerfile's stages and their instructions (comments and continuations joined). */
function stages(text: string): Stage[] {
  const out: Stage[] = [];
  const lines = text.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  for (const l of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(l);
    if (from) out.push({ name: from[2] ?? String(out.length), base: from[1]!, lines: [] });
    else out.at(-1)!.lines.push(l);
  }
  return out;
}

/** COPY instructions of a stage: their --from and sources. */
function copies(s: Stage): { from?: string; sources: string[] }[] {
  return s.lines.filter((l) => /^COPY\s/i.test(l)).map((l) => {
    const words = l.split(/\s+/).slice(1);
    const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
    const rest = words.filter((w) => !w.startsWith("--"));
    return { ...(from ? { from } : {}), sources: rest.slice(0, -1) };
  });
}

const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const all = stages(dockerfile);

describe("Dockerfile", () => {
  it("has a build stage and a runtime stage on node 20", () => {
    expect(all.map((s) => s.name)).toEqual(["build", "runtime"]);
    for (const s of all) expect(s.base).toMatch(/^node:20(-|$)/);
  });

  it("every path it copies exists: from the checkout, and from the build stage after npm run build", () => {
    const build = all[0]!;
    const workdir = (s: Stage): string => /^WORKDIR\s+(\S+)/i.exec(s.lines.find((l) => /^WORKDIR\s/i.test(l))!)![1]!;
    const missing: string[] = [];
    for (const s of all) {
      for (const c of copies(s)) {
        for (const src of c.sources) {
          let path: string;
          if (c.from === undefined) path = src;
          else {
            expect(c.from).toBe(build.name);
            expect(src.startsWith(`${workdir(build)}/`), `${src} lies in the build stage's WORKDIR`).toBe(true);
            path = src.slice(workdir(build).length + 1);
          }
          if (!existsSync(join(repoRoot, path))) missing.push(`${s.name}: ${src}`);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(copies(all[1]!).flatMap((c) => c.sources)).toEqual(expect.arrayContaining(["/src/bin/", "/src/dist/"]));
    expect(existsSync(join(repoRoot, "dist", "shardkv-server.mjs"))).toBe(true);
    expect(existsSync(join(repoRoot, "dist", "shardctl.cjs"))).toBe(true);
  });

  it(".dockerignore excludes nothing the Dockerfile copies from the checkout", () => {
    const ignored = readFileSync(join(repoRoot, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
    const sources = all.flatMap((s) => copies(s).filter((c) => c.from === undefined).flatMap((c) => c.sources)).map((p) => p.replace(/\/$/, ""));
    const re = (pattern: string): RegExp => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/|$)`);
    for (const src of sources) for (const p of ignored) expect(re(p).test(src), `${src} is excluded by .dockerignore line ${p}`).toBe(false);
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", ".git"]));
  });

  it("the runtime stage installs only production dependencies and runs as a non-root user in the manifests' directory", () => {
    const rt = all[1]!;
    expect(rt.lines.filter((l) => /npm (ci|install)/.test(l))).toEqual([expect.stringMatching(/^RUN npm ci --omit=dev\b/)]);
    const users = rt.lines.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1]!);
    expect(users.length).toBeGreaterThan(0);
    expect(["root", "0"]).not.toContain(users.at(-1)!.split(":")[0]);
    const lastUser = rt.lines.map((l) => /^USER\s/i.test(l)).lastIndexOf(true);
    expect(rt.lines.slice(lastUser + 1).some((l) => /^RUN\s/i.test(l)), "nothing runs as root after USER").toBe(false);
    expect(rt.lines).toContain(`WORKDIR ${appDir}`);
  });

  it("the command it runs exists, and the README gives its build command with the manifests' image", () => {
    const cmd = /^CMD\s+(\[.*\])$/m.exec(dockerfile.split("\n").filter((l) => !l.startsWith("#")).join("\n"));
    const argv = JSON.parse(cmd![1]!) as string[];
    const bins = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).bin as Record<string, string>;
    expect(Object.values(bins)).toContain(argv[0]);
    expect(existsSync(join(repoRoot, argv[0]!))).toBe(true);
    const build = /^#\s+(docker build -t (\S+) \.)$/m.exec(dockerfile);
    expect(build, "the Dockerfile's header names its build command").not.toBeNull();
    expect(build![2]).toBe(k8sDefaults.image);
    expect(readFileSync(join(repoRoot, "README.md"), "utf8")).toContain(build![1]);
  });
});
