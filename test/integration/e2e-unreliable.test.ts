/**
 * End-to-end scenario 5 of docs/testing.md ("The end-to-end scenarios"): an unreliable network made by the daemons' failpoints
 * (docs/failpoints.md), over real processes started by the launcher (3 controllers, 3 groups
 * of 3, 12 shards, NATS). Every daemon starts with `--failpoints on`; then, switched at run
 * time through each daemon's Admin service, every shard server and controller drops 10% of the
 * requests it receives (before executing them), drops 10% of its replies (after executing the
 * request), and delays every request and Raft batch by 0-27 ms. While that lasts a group
 * leaves and joins again, and:
 *  - an append load (test/lib/append-load.ts) must end with every key holding exactly its
 *    acknowledged appends, once each, in order: a reply lost after execution makes the client
 *    retry with the same sequence number, and the retry must not apply twice;
 *  - a get/put/append history over a few shared keys (4 clients, 6 keys; at least 200
 *    operations, 1500 with `npm run test:long`) must be linearizable
 *    (test/lib/linearizability.ts; an operation that timed out may or may not have happened).
 * Then the failpoints are cleared, the cluster settles, and no replica holds foreign keys.
 */
import { describe, expect, it } from "vitest";
import { TimeoutError } from "../../common/errors";
import type { GroupId } from "../../common/ids";
import { realClock, realRng } from "../../common/real-env";
import { ShardKV } from "../../client/shardkv";
import { parseFailpointSpec } from "../../common/failpoints";
import { FailpointAdminClient } from "../../raft/transport/failpoint-admin";
import { AppendLoad } from "../lib/append-load";
import { e2eLong, e2eSuite } from "../lib/e2e";
import { waitFor } from "../lib/wait";
import { checkLinearizable, formatEntry, type HistoryEntry } from "../../deploy/check/linearizability";

const shards = 12;
const g = (n: number) => n as GroupId;
const lossy = "drop-request=0.1,drop-reply=0.1,delay=27";

describe("e2e unreliable network through failpoints (NATS)", () => {
  const suite = e2eSuite("unreliable", { nats: true, groups: 3, shards, extraArgs: ["--failpoints", "on"] });

  /** Sets `spec` on every running daemon (controllers and shard servers). */
  async function setEverywhere(spec: string): Promise<void> {
    const e = suite.e;
    const parsed = parseFailpointSpec(spec);
    await Promise.all(e.cluster.nodeNames().map(async (name) => {
      const admin = new FailpointAdminClient(e.cluster.node(name).addr, e.cluster.security);
      try {
        const st = await admin.set(parsed);
        expect(st.text, `${name} failpoints`).toBe(spec === "none" ? st.text : spec);
      } finally {
        admin.close();
      }
    }));
    e.mark(`failpoints on every daemon: ${spec}`);
  }

  it("5. 10% requests dropped, 10% replies dropped after execution, 0-27 ms delays: appends exact, history linearizable", async () => {
    suite.onFail();
    const e = suite.e;
    const c = e.cluster;
    await setEverywhere(lossy);

    // The append load (exact check) ...
    const l = await AppendLoad.start({ controllers: e.controllers, clients: 3, keysPerClient: 3, prefix: "s5-", nats: e.nats, deadlineMs: 10_000, attemptMs: 400 });
    suite.closeAfter(l);
    // (A lost request or reply costs one attempt: short attempts, so retries come quickly.)
    // ... and a linearizability workload: 4 clients on 6 shared keys.
    const seed = realRng.int(2 ** 31);
    e.mark(`workload seed ${seed}`);
    let state = seed;
    const rand = (n: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    const history: HistoryEntry[] = [];
    let stop = false;
    let opsDone = 0;
    let timeouts = 0;
    const t0 = realClock.nowMs();
    const now = () => realClock.nowMs() - t0;
    const clients: ShardKV[] = [];
    for (let i = 0; i < 4; i++) clients.push(await ShardKV.connect({ controllers: e.controllers, deadlineMs: 5000, attemptMs: 400, nats: e.nats }));
    for (const kv of clients) suite.closeAfter(kv);
    const workers = clients.map(async (kv, clientId) => {
      let n = 0;
      while (!stop) {
        const key = `lin-${rand(6)}`;
        const r = rand(10);
        const callMs = now();
        try {
          if (r < 4) {
            const v = await kv.getString(key);
            history.push({ op: "get", input: { key }, output: { value: v }, clientId, callMs, returnMs: now() });
          } else {
            const value = `${clientId}.${n++};`;
            const op = r < 7 ? "put" : "append";
            if (op === "put") await kv.put(key, value);
            else await kv.append(key, value);
            history.push({ op, input: { key, value }, output: { ok: true }, clientId, callMs, returnMs: now() });
          }
          opsDone++;
        } catch (err) {
          if (!(err instanceof TimeoutError)) throw err;
          timeouts++;
          // Unknown outcome: a write may still take effect; a get constrains nothing.
          if (r >= 4) {
            const value = `${clientId}.${n - 1};`;
            history.push({ op: r < 7 ? "put" : "append", input: { key, value }, clientId, callMs });
          }
        }
      }
    });

    try {
      await l.waitAcks(80, "under the lossy network", 60_000);
      await c.controller().leave([g(3)]);
      e.mark("leave 3");
      await l.waitAcks(80, "during leave 3", 60_000);
      await c.controller().join(new Map([[g(3), c.groupAddrs(3)]]));
      e.mark("join 3");
      await l.waitAcks(80, "during join 3", 60_000);
      const target = e2eLong ? 1500 : 200;
      await waitFor(() => opsDone >= target, { timeoutMs: e2eLong ? 600_000 : 90_000, what: `${target} get/put/append operations (at ${opsDone})`, intervalMs: 50 });
    } finally {
      stop = true;
      await Promise.allSettled(workers);
    }
    for (const w of workers) await w;
    await l.stop();
    e.mark(`load stopped: ${l.acked} appends acked (${l.timedOut} timed out); ${opsDone} get/put/append done, ${timeouts} timed out`);

    // The faults happened: sum what every daemon's failpoints fired.
    const fired = { droppedRequests: 0, droppedReplies: 0, delayed: 0 };
    for (const name of c.nodeNames()) {
      const admin = new FailpointAdminClient(c.node(name).addr, c.security);
      try {
        const st = await admin.get();
        fired.droppedRequests += st.counters.droppedRequests;
        fired.droppedReplies += st.counters.droppedReplies;
        fired.delayed += st.counters.delayed;
      } finally {
        admin.close();
      }
    }
    e.mark(`failpoints fired: ${JSON.stringify(fired)}`);
    expect(fired.droppedRequests).toBeGreaterThan(20);
    expect(fired.droppedReplies).toBeGreaterThan(20);
    expect(fired.delayed).toBeGreaterThan(200);
    await setEverywhere("none");
    await e.waitSettled("after the failpoints were cleared", 90_000);
    const check = await l.verify();
    e.mark(`${check.keys} keys hold their ${check.acked} acknowledged appends once each, in order; ${check.unackedApplied} of ${check.unacked} unacknowledged applied`);
    expect(check.acked).toBeGreaterThan(200);

    const verdict = checkLinearizable(history, { timeoutMs: 60_000 });
    if (verdict.ok === false) {
      throw new Error(`not linearizable (seed ${seed}) on ${verdict.key}: ${verdict.reason}\n${(verdict.minimalPrefix ?? []).map(formatEntry).join("\n")}`);
    }
    expect(verdict).toEqual({ ok: true });
    e.mark(`history of ${history.length} operations linearizable`);
    expect(await e.foreignKeys()).toEqual([]);
  }, e2eLong ? 900_000 : 300_000);
});
