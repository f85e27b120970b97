/**
 * The test-only Admin service (proto/admin.proto, docs/failpoints.md) that switches a
 * daemon's failpoints at run time: `SetFailpoints` replaces the whole spec, `GetFailpoints`
 * reads it. Hosted on the daemon's one gRPC server next to the Raft transport (it lives here,
 * beside raft/transport/failpoint-transport.ts, because both daemons host that server and
 * common/ may not import proto/), and only when failpoints are enabled: otherwise the service
 * is absent and calls answer UNIMPLEMENTED. The Admin service itself is never subject to
 * failpoints, so a test can always heal what it broke.
 */
import * as grpc from "@grpc/grpc-js";
import type { Security } from "../../security/credentials";
import { type FailpointCounters, type FailpointSpec, type Failpoints, failpointsEnvVar, formatFailpointSpec, validateFailpointSpec } from "../../common/failpoints";
import { InvalidArgumentError } from "../../common/errors";
import { fromServiceError, toServiceError } from "../../common/grpc-errors";
import { wallClockMs } from "../../common/real-env";
import type { shardkv } from "../../proto/gen/admin.js";
import { type AdminImplementation, AdminStub, adminService } from "../../proto/gen/admin-grpc";

/** A spec as the wire message. */
export function failpointsToWire(s: FailpointSpec): shardkv.admin.Failpoints.$Properties {
  return {
    dropRequestRate: s.dropRequestRate, dropReplyRate: s.dropReplyRate, dropRaftRate: s.dropRaftRate,
    delayMsMax: s.delayMsMax, cutPeers: [...s.cutPeers],
  };
}

/** The wire message as a validated spec (InvalidArgumentError naming the field). */
export function failpointsFromWire(w: shardkv.admin.Failpoints.$Properties | null | undefined): FailpointSpec {
  return validateFailpointSpec({
    dropRequestRate: w?.dropRequestRate ?? 0,
    dropReplyRate: w?.dropReplyRate ?? 0,
    dropRaftRate: w?.dropRaftRate ?? 0,
    delayMsMax: w?.delayMsMax ?? 0,
    cutPeers: w?.cutPeers ?? [],
  });
}

/** What the Admin RPCs answer. */
export interface FailpointsState {
  readonly spec: FailpointSpec;
  /** Canonical text form ("none" when off). */
  readonly text: string;
  /** The daemon's own address. */
  readonly self: string;
  /** How often each failpoint fired since the daemon started. */
  readonly counters: FailpointCounters;
}

/**
 * Adds the Admin service to `server` when `fp` is defined (failpoints enabled); does nothing
 * otherwise. `log` is told of every change.
 */
export function addFailpointAdmin(server: grpc.Server, fp: Failpoints | undefined, log?: (msg: string) => void): void {
  if (fp === undefined) return;
  log?.(`failpoints enabled (test only; Admin service on): ${formatFailpointSpec(fp.spec)}`);
  const reply = (): shardkv.admin.FailpointsReply.$Properties =>
    ({ failpoints: failpointsToWire(fp.spec), spec: formatFailpointSpec(fp.spec), self: fp.self, counters: { ...fp.counters } });
  const impl: AdminImplementation = {
    setFailpoints: (call, callback) => {
      try {
        fp.set(failpointsFromWire(call.request.failpoints));
      } catch (e) {
        callback(toServiceError(e), null);
        return;
      }
      log?.(`failpoints set to ${formatFailpointSpec(fp.spec)}`);
      callback(null, reply());
    },
    getFailpoints: (_call, callback) => callback(null, reply()),
  };
  server.addService(adminService, impl);
}

/**
 * A client of one daemon's Admin service (tests, `shardkv-failpoint`). Calls throw the typed
 * errors of common/grpc-errors.ts; an UNIMPLEMENTED status (failpoints not enabled on that
 * daemon) becomes an InvalidArgumentError saying so.
 */
export class FailpointAdminClient {
  private readonly stub: AdminStub;

  constructor(readonly address: string, security: Security, private readonly timeoutMs = 5000) {
    this.stub = new AdminStub(address, security.channelCredentials());
  }

  set(spec: FailpointSpec): Promise<FailpointsState> {
    return this.call((cb) => this.stub.setFailpoints({ failpoints: failpointsToWire(spec) }, new grpc.Metadata(), this.options(), cb));
  }

  get(): Promise<FailpointsState> {
    return this.call((cb) => this.stub.getFailpoints({}, new grpc.Metadata(), this.options(), cb));
  }

  close(): void {
    this.stub.close();
  }

  private options(): Partial<grpc.CallOptions> {
    return { deadline: new Date(wallClockMs() + this.timeoutMs) };
  }

  private call(run: (cb: (err: grpc.ServiceError | null, res?: shardkv.admin.FailpointsReply) => void) => void): Promise<FailpointsState> {
    return new Promise((resolve, reject) => {
      run((err, res) => {
        if (err?.code === grpc.status.UNIMPLEMENTED) {
          reject(new InvalidArgumentError("address", `${this.address} has no Admin service: start the daemon with --failpoints (or ${failpointsEnvVar}=1)`));
        } else if (err) {
          reject(fromServiceError(err));
        } else {
          const spec = failpointsFromWire(res!.failpoints);
          const c = res!.counters;
          const counters: FailpointCounters = {
            droppedRequests: Number(c?.droppedRequests ?? 0), droppedReplies: Number(c?.droppedReplies ?? 0),
            droppedRaft: Number(c?.droppedRaft ?? 0), delayed: Number(c?.delayed ?? 0), cut: Number(c?.cut ?? 0),
          };
          resolve({ spec, text: res!.spec || formatFailpointSpec(spec), self: res!.self, counters });
        }
      });
    });
  }
}
