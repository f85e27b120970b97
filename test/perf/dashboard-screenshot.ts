/**
 * The README's picture of the dashboard (docs/dashboard.png), taken under load:
 *
 *   npx tsx test/perf/dashboard-screenshot.ts [--out docs/dashboard.png]
 *
 * A local cluster of 3 controllers and 1 group of 3 (64 shards, mutual TLS, migrations capped
 * at 20 KiB/s so a move lasts long enough to be seen), 5,000 keys written, then `bin/shardkv
 * bench` (mixed 50 % gets, 8 clients) running throughout; `shardkv-local dashboard` opened in
 * headless Debian chromium; after 40 s of charts a second group is added, and the picture is
 * taken while its shards are moving. Not a test: the page test is
 * test/integration/dashboard.test.ts.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { ShardKV } from "../../client/shardkv";
import { delay } from "../../common/real-env";
import { LocalCluster } from "../../deploy/local/cluster";
import { ensureChromium } from "../lib/chromium";
import { waitFor } from "../lib/wait";

const root = resolve(import.meta.dirname, "../..");
const { values } = parseArgs({ options: { out: { type: "string", default: join(root, "docs", "dashboard.png") } } });
const out = resolve(values.out!);

const dir = mkdtempSync(join(tmpdir(), "shardkv-dashboard-shot-"));
const cluster = await LocalCluster.up({ dir, controllers: 3, groups: 1, replicas: 3, shards: 64, tls: true, serverArgs: ["--migration-rate", "0.02"] });
const children: ReturnType<typeof spawn>[] = [];
try {
  const kv = await ShardKV.connect({ ...cluster.clientOptions(), deadlineMs: 20_000 });
  try {
    for (let i = 0; i < 5000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => kv.put(`user:${i + j}`, `profile-${i + j}-`.repeat(8))));
  } finally {
    kv.close();
  }
  const tls = cluster.tlsFiles("client")!;
  const load = spawn(join(root, "bin", "shardkv"), ["bench", "--controllers", cluster.controllerAddrs().join(","), "--tls-ca", tls.ca, "--tls-cert", tls.cert, "--tls-key", tls.key,
    "--workload", "mixed:50", "--concurrency", "8", "--keys", "5000", "--duration", "150s", "--warmup", "0ms", "--key-prefix", "user:"], { stdio: "ignore" });
  children.push(load);
  let said = "";
  const dash = spawn(join(root, "bin", "shardkv-local"), ["dashboard", "--dir", dir, "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(dash);
  dash.stdout!.on("data", (b: Buffer) => (said += b.toString()));
  await waitFor(() => /http:\/\/127\.0\.0\.1:\d+\//.test(said), { timeoutMs: 30_000, what: "the dashboard's URL" });
  const url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(said)![1]!;
  const browser = await chromium.launch({ executablePath: ensureChromium(), args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(url);
    process.stdout.write(`dashboard at ${url}; 40 s of load for the charts\n`);
    await delay(40_000); // history for the charts to show, not a condition
    const adding = cluster.addGroup({ replicas: 3, timeoutMs: 300_000 });
    adding.catch(() => undefined);
    await waitFor(async () => (await page.locator("text=Pulling").count()) > 1, { timeoutMs: 60_000, what: "shards pulling on the page", intervalMs: 250 });
    await delay(4_000); // some bytes moved, the charts of group 2 begun
    await page.screenshot({ path: out, fullPage: true });
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await browser.close();
  }
} finally {
  for (const c of children) c.kill("SIGTERM");
  await cluster.down(0);
  cluster.close();
  rmSync(dir, { recursive: true, force: true });
}
