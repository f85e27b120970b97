/**
 * The test-only ReplicaAdmin service (proto/admin.proto): runs a replica change
 * (raft/replica-change.ts) on this daemon's RaftNode when it leads its group. Registered, like
 * the failpoint Admin service, only on a daemon started with failpoints enabled: a test's way to
 * run a change directly, with no stored intent (operators store one with `shardctl replica ...`,
 * which the leader's replica driver, raft/replica-driver.ts, carries out).
 */
import * as grpc from "@grpc/grpc-js";
import type { Security } from "../../security/credentials";
import { InvalidArgumentError, StoppedError } from "../../common/errors";
import type { Failpoints } from "../../common/failpoints";
import { fromServiceError, toServiceError } from "../../common/grpc-errors";
import type { NodeId } from "../../common/ids";
import { realClock, wallClockMs } from "../../common/real-env";
import { describeReplicaChange, type ReplicaChange } from "../../common/replica-change";
import type { shardkv } from "../../proto/gen/admin.js";
import { type ReplicaAdminImplementation, ReplicaAdminStub, replicaAdminService } from "../../proto/gen/admin-grpc";
import type { RaftNode } from "../node";
import { executeReplicaChange } from "../replica-change";

/** The longest a ChangeReplicas call runs (and its default). */
const changeTimeoutMsMax = 600_000;

/** The request as a ReplicaChange; InvalidArgumentError naming the field. */
export function replicaChangeFromWire(w: shardkv.admin.ChangeReplicasRequest.$Properties): ReplicaChange {
  const id = (v: number | null | undefined, field: string): NodeId => {
    const n = Number(v ?? 0);
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(field, `want a replica id >= 1, got ${v ?? 0}`);
    return n as NodeId;
  };
  const address = (): string => {
    if (!w.address) throw new InvalidArgumentError("address", "the new replica's host:port is required");
    return w.address;
  };
  switch (w.kind) {
    case "addLearner": return { kind: "addLearner", id: id(w.id as number, "id"), address: address() };
    case "promote": return { kind: "promote", id: id(w.id as number, "id") };
    case "remove": return { kind: "remove", id: id(w.id as number, "id") };
    case "replace": return { kind: "replace", oldId: id(w.oldId as number, "oldId"), newId: id(w.newId as number, "newId"), address: address() };
    default: throw new InvalidArgumentError("kind", `want addLearner, promote, remove or replace, got ${JSON.stringify(w.kind ?? "")}`);
  }
}

/** Adds the ReplicaAdmin service to `server` when failpoints are enabled (`fp` defined). */
export function addReplicaAdmin(
  server: grpc.Server, fp: Failpoints | undefined, node: () => RaftNode<unknown> | undefined, log: (msg: string) => void,
): void {
  if (fp === undefined) return;
  const impl: ReplicaAdminImplementation = {
    changeReplicas: (call, callback) => {
      void (async () => {
        const change = replicaChangeFromWire(call.request);
        const n = node();
        if (n === undefined) throw new StoppedError("raft node");
        const timeoutMs = Math.min(call.request.timeoutMs || changeTimeoutMsMax, changeTimeoutMsMax);
        const deadline = wallClockMs() + timeoutMs;
        log(`replica change: ${describeReplicaChange(change)}${call.request.force ? " (forced)" : ""}`);
        const index = await executeReplicaChange(n, change, {
          clock: realClock, force: call.request.force === true, aborted: () => wallClockMs() > deadline || call.cancelled,
          onProgress: (step, waiting) => log(`replica change ${describeReplicaChange(change)}: ${step}: ${waiting}`),
        });
        log(`replica change done: ${describeReplicaChange(change)} (configuration at index ${index})`);
        return index;
      })().then((index) => callback(null, { confIndex: index }), (e: unknown) => callback(toServiceError(e), null));
    },
  };
  server.addService(replicaAdminService, impl);
}

/** A client of one daemon's ReplicaAdmin service (tests). Calls throw the typed errors of common/grpc-errors.ts. */
export class ReplicaAdminClient {
  private readonly stub: ReplicaAdminStub;

  constructor(readonly address: string, security: Security) {
    this.stub = new ReplicaAdminStub(address, security.channelCredentials());
  }

  /** Runs `change` on this daemon (its group's leader); resolves with the completing configuration's index. */
  change(change: ReplicaChange, o: { force?: boolean; timeoutMs: number }): Promise<number> {
    const req: shardkv.admin.ChangeReplicasRequest.$Properties = {
      kind: change.kind, force: o.force === true, timeoutMs: o.timeoutMs,
      ...(change.kind === "replace" ? { oldId: change.oldId, newId: change.newId, address: change.address } : { id: change.id }),
      ...(change.kind === "addLearner" ? { address: change.address } : {}),
    };
    return new Promise((resolve, reject) => {
      this.stub.changeReplicas(req, new grpc.Metadata(), { deadline: new Date(wallClockMs() + o.timeoutMs + 5000) }, (err, res) => {
        if (err) reject(fromServiceError(err));
        else resolve(Number(res!.confIndex));
      });
    });
  }

  close(): void {
    this.stub.close();
  }
}
