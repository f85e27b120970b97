/**
 * The controller's side of ShardKV.Identify (the join check, controller/join-check.ts): asks
 * one shard server who it is, trying again for up to `joinCheckServerMs` (a dropped request,
 * a server still binding its port), and describes a server that gave no identity in user
 * terms ("connection refused", "no answer within 2 s"), never with gRPC internals.
 */
import * as grpc from "@grpc/grpc-js";
import type { Security } from "../security/credentials";
import { realClock, wallClockMs } from "../common/real-env";
import type { shardkv } from "../proto/gen/shardkv.js";
import { shardKVStub, type ShardKVStub } from "../shard-server/grpc-service";
import { type IdentifyAnswer, joinCheckAttemptMs, joinCheckRetryMs, joinCheckServerMs } from "./join-check";

/**
 * Why a failed Identify call gave no identity, in user terms (the text after the address);
 * `waitedMs`: how long the server was given (for a deadline).
 */
export function describeIdentifyFailure(e: Partial<grpc.ServiceError>, waitedMs: number): string {
  const details = e.details ?? e.message ?? "";
  const code = e.metadata?.get("shardkv-code")[0];
  if (code === "Stopped") return "is starting or shutting down";
  switch (e.code) {
    case grpc.status.DEADLINE_EXCEEDED: return `gave no answer within ${waitedMs / 1000} s`;
    case grpc.status.UNIMPLEMENTED: return "answers, but not as a shard server";
    case grpc.status.UNAVAILABLE:
      if (/ECONNREFUSED/.test(details)) return "connection refused";
      if (/EHOSTUNREACH|ENETUNREACH/.test(details)) return "host unreachable";
      if (/ENOTFOUND|EAI_AGAIN|DNS resolution failed|Name resolution failed/i.test(details)) return "host name not found";
      if (/failpoint: .* cut off/.test(details)) return "cut off (failpoint)";
      return "unreachable";
    default: return `failed: ${details.split("\n")[0]}`;
  }
}

/**
 * Whether a failed Identify call means the server gave no answer at all (nothing listening,
 * unreachable, no reply before the deadline, a server still starting or shutting down), as
 * opposed to something answering but not as a shard server (UNIMPLEMENTED) or with an error.
 * A join refused only for servers that gave no answer may pass later (join-check.ts).
 */
export function gaveNoAnswer(e: Partial<grpc.ServiceError>): boolean {
  if (e.metadata?.get("shardkv-code")[0] === "Stopped") return true;
  return e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED;
}

const identityOf = (r: shardkv.kv.IdentifyReply): IdentifyAnswer => ({
  ok: true,
  identity: { gid: r.gid, id: r.id, shardCount: r.shardCount, clusterId: r.clusterId, hasData: r.hasData },
});

function callOnce(stub: ShardKVStub, deadlineMs: number): Promise<IdentifyAnswer | grpc.ServiceError> {
  return new Promise((resolve) => {
    stub.identify({}, new grpc.Metadata(), { deadline: new Date(wallClockMs() + deadlineMs) }, (err, res) => {
      resolve(err ? err : identityOf(res!));
    });
  });
}

/**
 * Asks the shard server at `address` who it is: attempts of at most joinCheckAttemptMs,
 * joinCheckRetryMs apart, for up to `budgetMs` in all. A server that answers but not as a
 * shard server (UNIMPLEMENTED) is not asked again. When no attempt succeeds, the answer names
 * the last definite failure ("connection refused") rather than an attempt cut short by the
 * budget. `security`: the daemon's; `clientOptions`: its failpoint interceptor.
 */
export async function identifyServer(
  address: string, security: Security, clientOptions: grpc.ClientOptions = {}, budgetMs = joinCheckServerMs,
): Promise<IdentifyAnswer> {
  const stub = shardKVStub(address, security, clientOptions);
  const start = realClock.nowMs();
  let definite: grpc.ServiceError | undefined;
  try {
    for (;;) {
      const left = budgetMs - (realClock.nowMs() - start);
      const r = await callOnce(stub, Math.max(1, Math.min(joinCheckAttemptMs, left)));
      if (!(r instanceof Error)) return r;
      if (r.code !== grpc.status.DEADLINE_EXCEEDED) definite = r;
      if (r.code === grpc.status.UNIMPLEMENTED || realClock.nowMs() - start + joinCheckRetryMs >= budgetMs) {
        const failure = definite ?? r;
        return { ok: false, error: describeIdentifyFailure(failure, budgetMs), answered: !gaveNoAnswer(failure) };
      }
      await new Promise<void>((resolve) => realClock.after(joinCheckRetryMs, resolve));
    }
  } finally {
    stub.close();
  }
}
