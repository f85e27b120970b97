/**
 * The README's by-hand sections ("Controllers and `shardctl`", "Client library and CLI") run on
 * their own, top to bottom, as a user pastes them: each uses its own directory and ports (none
 * shared with the other or with `npm start`'s `.shardkv`), and ends by stopping what it started.
 *
 * Each section's shell blocks are run by bash in a temporary directory that looks like the
 * repository root (symbolic links to bin/, scripts/, client/, package.json, node_modules), its
 * `.ts` block saved as example.ts and run with `npx tsx example.ts` where the README says so.
 * Two things are rewritten, nothing else: the section's directory becomes an absolute path in
 * the temporary directory (so `pgrep -f` finds exactly its processes), and each of its port
 * ranges (127.0.0.1:NNN1..) is moved to a free one (tests bind free ports). A command that
 * fails outside a condition or `||` is reported by an ERR trap and fails the test.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../deploy/local/process";
import { pidsMentioning, runCommand } from "../lib/run-command";

interface Section {
  readonly title: string;
  /** Its fenced blocks in order. */
  readonly blocks: ReadonlyArray<{ readonly lang: string; readonly text: string }>;
  /** `D=<dir>` of its first shell block. */
  readonly dir: string;
  /** The first three digits of each port it names: "710" for 127.0.0.1:7101 and 127.0.0.1:710$i. */
  readonly portPrefixes: readonly string[];
}

const readme = readFileSync(join(repoRoot, "README.md"), "utf8");

function section(title: string): Section {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no section "## ${title}"`);
  const end = readme.indexOf("\n## ", start + 1);
  const body = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...body.matchAll(/```(sh|ts)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, text: m[2]! }));
  const sh = blocks.filter((b) => b.lang === "sh").map((b) => b.text).join("");
  const dir = /^D=([^;\s]+)/m.exec(sh)?.[1] ?? "";
  const portPrefixes = [...new Set([...body.matchAll(/127\.0\.0\.1:(\d{3})(?:\d|\$i)/g)].map((m) => m[1]!))].sort();
  return { title, blocks, dir, portPrefixes };
}

const sections = [section("Controllers and `shardctl`"), section("Client library and CLI")];

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Whether every port of `ports` can be bound on loopback now. */
async function allFree(ports: readonly number[]): Promise<boolean> {
  const servers = [];
  try {
    for (const port of ports) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(port, "127.0.0.1", resolve);
      });
    }
    return true;
  } catch {
    return false;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** A free block of ten ports below Linux's ephemeral range, as its first four digits ("2345" = 23450-23459). */
async function freeDecade(taken: Set<string>): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    // Spread by pid, so test processes running at once start their scans apart.
    const decade = String(2000 + ((process.pid * 131 + attempt * 37) % 1270));
    if (taken.has(decade)) continue;
    if (await allFree(Array.from({ length: 10 }, (_, i) => Number(decade) * 10 + i))) {
      taken.add(decade);
      return decade;
    }
  }
  throw new Error("no free block of ten loopback ports found in 20000-32699");
}

/** The section as one bash script, its directory under `root` and its ports moved to free ones. */
async function scriptOf(s: Section, root: string): Promise<string> {
  const taken = new Set<string>();
  const moves = new Map<string, string>();
  for (const p of s.portPrefixes) moves.set(p, await freeDecade(taken));
  const rewrite = (text: string): string =>
    text.replace(/127\.0\.0\.1:(\d{3})(?=\d|\$i)/g, (_, p: string) => `127.0.0.1:${moves.get(p)}`)
      .replace(new RegExp(`^D=${s.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "m"), `D=${join(root, s.dir)}`);
  let script = `trap 'echo "README-FAILED line $LINENO: $BASH_COMMAND" >&2' ERR\n`;
  for (const b of s.blocks) {
    script += b.lang === "sh" ? rewrite(b.text) : `cat > example.ts <<'EXAMPLE'\n${rewrite(b.text)}EXAMPLE\nnpx tsx example.ts\n`;
  }
  return script;
}

describe("README by-hand sections", () => {
  it("each use their own directory and ports, start from an empty directory and end by stopping what they started", () => {
    const [a, b] = sections as [Section, Section];
    for (const s of sections) {
      expect(s.dir, `${s.title}: D=<its directory>`).not.toBe("");
      expect(s.dir).not.toBe(".shardkv");
      expect(s.portPrefixes.length, s.title).toBeGreaterThan(0);
      const sh = s.blocks.filter((x) => x.lang === "sh");
      expect(sh[0]!.text, s.title).toMatch(/^D=[^;\n]+; rm -rf \$D; mkdir -p \$D$/m);
      expect(sh.at(-1)!.text.trimEnd().split("\n").at(-1), s.title).toMatch(/^kill \$\(jobs -p\); wait\b/);
    }
    expect(a.dir).not.toBe(b.dir);
    expect(a.portPrefixes.filter((p) => b.portPrefixes.includes(p)), "ports both sections use").toEqual([]);
    // A checkout where the sections ran stays clean.
    for (const s of sections) expect(spawnSync("git", ["check-ignore", "-q", `${s.dir}/c1`], { cwd: repoRoot }).status, `${s.dir} in .gitignore`).toBe(0);
  });

  for (const s of sections) {
    it(`"${s.title}" runs top to bottom and leaves no process`, async () => {
      const root = mkdtempSync(join(tmpdir(), "shardkv-readme-"));
      temps.push(root);
      for (const f of ["bin", "scripts", "client", "package.json", "node_modules"]) symlinkSync(join(repoRoot, f), join(root, f));
      writeFileSync(join(root, "section.sh"), await scriptOf(s, root));
      try {
        const r = await runCommand("bash", ["section.sh"], { cwd: root, timeoutMs: 300_000 });
        expect(r.stderr).not.toContain("README-FAILED");
        expect(r.code, r.stderr).toBe(0);
        if (s.title.startsWith("Controllers")) {
          expect(r.stdout).toContain("config 3 created");
          expect(r.stdout).toMatch(/^\{"num":3,/m);
        } else {
          expect(r.stdout).toContain("\nhello, world\n");
          expect(r.stdout).toContain('{"found":true,"value":"hello, world"}');
          expect(r.stdout).toContain("alice smith\ntrue\ntrue\nundefined\n");
        }
        expect(pidsMentioning(root), "processes left by the section").toEqual([]);
      } finally {
        for (const pid of pidsMentioning(root)) process.kill(pid, "SIGKILL");
      }
    }, 360_000);
  }
});
