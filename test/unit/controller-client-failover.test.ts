/**
 * ControllerClient (controller/client.ts) when the controller leader dies under a change in
 * flight (e2e-recovery scenario 10: the leader killed -9 during a burst of joins and leaves).
 * The call in flight fails as the connection breaks; the client then asks another controller
 * at once, and does not go back to the dead one when a follower that has not yet noticed
 * names it as its leader (a stale hint, until the election): the change completes at the new
 * leader with no further attempt at the dead replica.
 */
import * as grpc from "@grpc/grpc-js";
import { type Server, type Socket, connect, createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { NotLeaderError } from "../../common/errors";
import type { GroupId, NodeId } from "../../common/ids";
import { toServiceError } from "../../common/grpc-errors";
import { ControllerClient } from "../../controller/client";
import { controllerService, type ControllerImplementation } from "../../proto/gen/controller-grpc";
import { Security } from "../../security/credentials";
import { waitFor } from "../lib/wait";

type Answer = { configNum: number } | Error | undefined;

/** A fake controller replica whose Move answers `answer()` (undefined: holds the call, unanswered); counts the Moves. */
async function fakeController(answer: () => Answer): Promise<{ port: number; server: grpc.Server; moves: () => number }> {
  const server = new grpc.Server();
  let moves = 0;
  const impl: Partial<ControllerImplementation> = {
    move: (_call, cb) => {
      moves++;
      const a = answer();
      if (a === undefined) return;
      if (a instanceof Error) cb(toServiceError(a) as grpc.ServiceError);
      else cb(null, a);
    },
  };
  server.addService(controllerService, impl as ControllerImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, server, moves: () => moves };
}

/**
 * A TCP front for `port` that can die as a killed process does: `kill()` breaks every
 * connection; after it, each new connection is counted and closed at once (a client's attempt
 * at the dead replica).
 */
async function killable(port: number): Promise<{ address: string; server: Server; kill: () => void; attemptsAfterKill: () => number }> {
  const sockets = new Set<Socket>();
  let dead = false;
  let after = 0;
  const server = createServer((s) => {
    if (dead) {
      after++;
      s.destroy();
      return;
    }
    const up = connect(port, "127.0.0.1");
    sockets.add(s).add(up);
    s.pipe(up).pipe(s);
    const close = (): void => { s.destroy(); up.destroy(); };
    s.on("error", close).on("close", close);
    up.on("error", close).on("close", close);
  });
  const p = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
  return {
    address: `127.0.0.1:${p}`,
    server,
    kill: () => {
      dead = true;
      for (const s of sockets) s.destroy();
    },
    attemptsAfterKill: () => after,
  };
}

describe("ControllerClient when the controller leader dies", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it("a change in flight to a leader whose connection breaks goes to the other controllers, never back to the dead one on stale hints", async () => {
    let elected = false;
    const leader = await fakeController(() => undefined);
    const front = await killable(leader.port);
    // Until the election, both followers name the dead leader; then the first one leads.
    const b = await fakeController(() => (elected ? { configNum: 7 } : new NotLeaderError(1 as NodeId, front.address)));
    const c = await fakeController(() => new NotLeaderError(1 as NodeId, front.address));
    cleanups.push(() => { for (const s of [leader, b, c]) s.server.forceShutdown(); front.server.close(); });
    const addrs = [front.address, `127.0.0.1:${b.port}`, `127.0.0.1:${c.port}`];
    const client = new ControllerClient({ controllers: addrs, security: Security.insecure(), deadlineMs: 30_000, attemptMs: 2000 });
    cleanups.push(() => client.close());

    const p = client.move(0, 1 as GroupId);
    await waitFor(() => leader.moves() === 1, { timeoutMs: 10_000, what: "the Move held by the leader" });
    front.kill();
    // Both followers asked (and answered with the stale hint) before the election.
    await waitFor(() => b.moves() >= 1 && c.moves() >= 1, { timeoutMs: 10_000, what: "the Move asked of both followers" });
    elected = true;
    expect(await p).toBe(7);
    expect(front.attemptsAfterKill()).toBe(0);
  });
});
