/**
 * ControllerClient.join with `serversWaitMs` (controller/client.ts) against a fake controller
 * over real gRPC: a join the controller refuses only because servers gave no answer
 * (ServersUnansweredError, its `unanswered` field carried through the wire mapping in
 * common/wire-errors.ts) is asked again, each time as a new request, until it passes; any
 * other refusal ends the call at once; at the end of the wait the last refusal is the
 * answer. Time is a ManualClock: the test moves it past each pause, no sleeps.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError, ServersUnansweredError, type UnansweredServer } from "../../common/errors";
import { toServiceError } from "../../common/grpc-errors";
import type { GroupId } from "../../common/ids";
import { ControllerClient, serversWaitPauseMs } from "../../controller/client";
import { controllerService, type ControllerImplementation } from "../../proto/gen/controller-grpc";
import { Security } from "../../security/credentials";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";

const refusal = "join refused: group 7 needs 2 of 3 servers answering as its replicas; 1 answered: ...";
const down: UnansweredServer[] = [{ address: "127.0.0.1:20123", reason: "connection refused" }, { address: "127.0.0.1:20124", reason: "connection refused" }];

/** A fake controller whose Join answers `answer(n)` for its n-th Join (from 1); records each request's seq. */
async function fakeController(answer: (n: number) => { configNum: number } | Error): Promise<{ address: string; server: grpc.Server; seqs: number[] }> {
  const server = new grpc.Server();
  const seqs: number[] = [];
  const impl: Partial<ControllerImplementation> = {
    join: (call, cb) => {
      seqs.push(Number(call.request.id?.seq));
      const a = answer(seqs.length);
      if (a instanceof Error) cb(toServiceError(a) as grpc.ServiceError);
      else cb(null, a);
    },
  };
  server.addService(controllerService, impl as ControllerImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { address: `127.0.0.1:${port}`, server, seqs };
}

describe("ControllerClient.join waiting for servers that give no answer yet", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  async function setup(answer: (n: number) => { configNum: number } | Error) {
    const ctl = await fakeController(answer);
    const clock = new ManualClock();
    const client = new ControllerClient({ controllers: [ctl.address], security: Security.insecure(), clock, deadlineMs: 10_000 });
    cleanups.push(() => { client.close(); ctl.server.forceShutdown(); });
    return { ctl, clock, client };
  }

  /** Moves the clock past the pause before the next attempt, once the client waits in it. */
  async function nextAttempt(clock: ManualClock): Promise<void> {
    await waitFor(() => clock.pending > 0, { timeoutMs: 10_000, what: "the client's pause before its next attempt" });
    clock.advance(serversWaitPauseMs);
  }

  it("asks again, a new request each time, telling each wait, until the join passes", async () => {
    const { ctl, clock, client } = await setup((n) => (n <= 2 ? new ServersUnansweredError(refusal, n === 1 ? down : down.slice(1)) : { configNum: 4 }));
    const waits: { unanswered: readonly UnansweredServer[]; leftMs: number }[] = [];
    const p = client.join(new Map([[7 as GroupId, ["127.0.0.1:20123", "127.0.0.1:20124", "127.0.0.1:20125"]]]), {
      serversWaitMs: 30_000, onServersWait: (unanswered, leftMs) => waits.push({ unanswered, leftMs }),
    });
    await nextAttempt(clock);
    await nextAttempt(clock);
    expect(await p).toBe(4);
    expect(waits).toEqual([{ unanswered: down, leftMs: 30_000 }, { unanswered: down.slice(1), leftMs: 30_000 - serversWaitPauseMs }]);
    expect(ctl.seqs).toEqual([1, 2, 3]);
  });

  it("a refusal that waiting cannot cure (a server answering as another group's) ends it at once", async () => {
    const { ctl, client } = await setup(() => new InvalidArgumentError("groups", "join refused: ...: 127.0.0.1:20123 is replica 1 of group 3"));
    let waited = 0;
    const e = await client.join(new Map([[7 as GroupId, ["127.0.0.1:20123"]]]), { serversWaitMs: 30_000, onServersWait: () => waited++ }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e).not.toBeInstanceOf(ServersUnansweredError);
    expect((e as InvalidArgumentError).reason).toContain("is replica 1 of group 3");
    expect({ waited, joins: ctl.seqs.length }).toEqual({ waited: 0, joins: 1 });
  });

  it("at the end of the wait (or with none) the last refusal is the answer, naming the servers", async () => {
    const { ctl, clock, client } = await setup(() => new ServersUnansweredError(refusal, down));
    const groups = new Map([[7 as GroupId, ["127.0.0.1:20123", "127.0.0.1:20124", "127.0.0.1:20125"]]]);
    const once = await client.join(groups).catch((x: unknown) => x);
    expect(once).toBeInstanceOf(ServersUnansweredError);
    expect(once).toMatchObject({ field: "groups", reason: refusal, unanswered: down });
    expect(ctl.seqs).toHaveLength(1);

    const p = client.join(groups, { serversWaitMs: 2 * serversWaitPauseMs }).catch((x: unknown) => x);
    await nextAttempt(clock);
    await nextAttempt(clock);
    const e = await p;
    expect(e).toBeInstanceOf(ServersUnansweredError);
    expect((e as ServersUnansweredError).unanswered).toEqual(down);
    expect(ctl.seqs).toHaveLength(4);
    expect(clock.pending).toBe(0);
  });
});
