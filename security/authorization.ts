/**
 * What each role may do (docs/design.md#942-what-each-role-may-do), checked at the edge of
 * every gRPC handler of the daemons: one table, `methodRoles`, names for every RPC method of
 * every service (proto/*.proto) the roles that may call it, and `AuthorizedServer`, the
 * grpc.Server the daemons serve on, refuses to host a method the table does not name and,
 * on a server in `mtls` mode, checks the caller's certificate (security/identity.ts) before
 * the handler runs. A refusal is a PermissionDeniedError (gRPC PERMISSION_DENIED) naming the
 * identity and the action in one line, logged at most once per identity and action every
 * `refusalLogIntervalMs`.
 *
 * Key prefixes: a client certificate with a prefix may touch only keys starting with it. The
 * check is per request inside the Batch stream (shard-server/grpc-service.ts hands
 * `batchKeyAccess(call)` to shard-server/batch-stream.ts): a get or a write (all its ops) with
 * a key outside the prefix is answered PERMISSION_DENIED before it runs; the stream and its
 * other requests go on.
 *
 * An `insecure` server (a daemon started with --insecure) has no identities: everything is
 * allowed, as before certificates existed. The mode comes from the process's Security
 * (`accessOf`), never from a call: on an `mtls` server a call without a certificate carrying
 * a shardkv identity is refused.
 */
import * as grpc from "@grpc/grpc-js";
import { assert } from "../common/assert";
import { PermissionDeniedError } from "../common/errors";
import { toServiceError } from "../common/grpc-errors";
import { describeKey } from "../common/limits";
import { realClock } from "../common/real-env";
import { type Security, peerIdentity } from "./credentials";
import { type Identity, NotAnIdentityError, type Role } from "./identity";

/** How a server authenticates its callers: mutual TLS (identities from certificates) or not at all. */
export type AccessMode = "mtls" | "insecure";

/**
 * The access mode of a daemon's server: its process's Security says, as its flags chose it
 * (`--insecure` asked for by name, or TLS files); never guessed from a call.
 */
export function accessOf(security: Security): AccessMode {
  return security.secure ? "mtls" : "insecure";
}

const node: readonly Role[] = ["node"];
const admin: readonly Role[] = ["admin"];
const nodeAdmin: readonly Role[] = ["node", "admin"];
const data: readonly Role[] = ["admin", "client"];
const anyone: readonly Role[] = ["node", "admin", "client"];

/**
 * Every RPC method of every service, by its gRPC path, and the roles that may call it. A
 * method missing here cannot be served (AuthorizedServer asserts) and the table test fails
 * (test/unit/authorization.test.ts enumerates the generated service definitions).
 */
export const methodRoles: Readonly<Record<string, readonly Role[]>> = {
  // The controller: membership changes are the operators'; what a group reports while it
  // carries out a change is its replicas'; the config and status, everyone's (clients route by it).
  "/shardkv.controller.Controller/Join": admin,
  "/shardkv.controller.Controller/Leave": admin,
  "/shardkv.controller.Controller/Move": admin,
  "/shardkv.controller.Controller/ReplicaChange": admin,
  "/shardkv.controller.Controller/ReplicaCancel": admin,
  "/shardkv.controller.Controller/AckJoin": node,
  "/shardkv.controller.Controller/ReplicaDone": node,
  "/shardkv.controller.Controller/ReplicaProgress": node,
  "/shardkv.controller.Controller/Query": anyone,
  "/shardkv.controller.Controller/Watch": anyone,
  // A group's leader waits on its own group's replica-change intent.
  "/shardkv.controller.Controller/WatchIntent": node,
  "/shardkv.controller.Controller/Status": anyone,
  // Raft between the replicas of a group; its members, for status pages.
  "/shardkv.raft.RaftTransport/Send": node,
  "/shardkv.raft.RaftMembers/Members": nodeAdmin,
  // A leader handing leadership off (shardctl handoff, a Kubernetes preStop hook run with the
  // pod's own node certificate). Nodes may: a node may already send any Raft message.
  "/shardkv.raft.RaftLeadership/TransferLeader": nodeAdmin,
  // A shard server: data for applications and operators, migration between groups for replicas.
  "/shardkv.kv.ShardKV/Batch": data,
  "/shardkv.kv.ShardKV/PullShard": node,
  "/shardkv.kv.ShardKV/DeleteShard": node,
  "/shardkv.kv.ShardKV/Status": nodeAdmin,
  "/shardkv.kv.ShardKV/Identify": nodeAdmin,
  // Test-only services of daemons started with failpoints.
  "/shardkv.admin.Admin/SetFailpoints": admin,
  "/shardkv.admin.Admin/GetFailpoints": admin,
  "/shardkv.admin.ReplicaAdmin/ChangeReplicas": admin,
};

const roleNames: Readonly<Record<Role, string>> = { node: "nodes", admin: "admins", client: "clients" };

/** Who may, for a refusal: "admin only", "nodes and admins only". */
export function describeRoles(roles: readonly Role[]): string {
  if (roles.length === 1) return `${roles[0]} only`;
  const names = roles.map((r) => roleNames[r]);
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)} only`;
}

/** An identity as refusals name it: `client "app1"`. */
export function who(id: Identity): string {
  return `${id.role} ${JSON.stringify(id.name)}`;
}

/** The refusal of `id` calling method `path`, or undefined when its role may. */
export function refuseMethod(id: Identity, path: string): PermissionDeniedError | undefined {
  const roles = methodRoles[path];
  assert(roles !== undefined, `no roles for ${path} in methodRoles`);
  if (roles.includes(id.role)) return undefined;
  return new PermissionDeniedError(who(id), path.slice(path.lastIndexOf("/") + 1), describeRoles(roles));
}

/** What a Batch request does to a key, as refusals say it. */
export type KeyAction = "read" | "write";

/**
 * The key check of one caller: undefined when `key` is allowed, else the refusal. Undefined
 * itself (batchKeyAccess) when every key is allowed.
 */
export type KeyAccess = (key: Uint8Array, action: KeyAction) => PermissionDeniedError | undefined;

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** The key check of `id`: undefined when it may touch every key (no prefix in its certificate). */
export function keyAccessOf(id: Identity): KeyAccess | undefined {
  const prefix = id.prefix;
  if (prefix === undefined) return undefined;
  return (key, action) => startsWith(key, prefix)
    ? undefined
    : new PermissionDeniedError(who(id), `${action} key ${describeKey(key)}`, `its certificate allows keys starting with ${describeKey(prefix)} only`);
}

/** At most one log line per identity and action in this long (the others are counted). */
export const refusalLogIntervalMs = 10_000;

/** Distinct (identity, action) pairs remembered for rate limiting before the memory is reset. */
const refusalKeysMax = 1000;

/** Logs refusals, one line per identity and action every refusalLogIntervalMs, with the count in between. */
class RefusalLog {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(private readonly log: RefusalLogger, private readonly nowMs: () => number) {}

  /** `kind`: what lines are counted under (default the action; key refusals count per read/write, not per key). */
  refused(e: PermissionDeniedError, peer: string, kind = e.action): void {
    const key = `${e.who}\u0000${kind}`;
    const now = this.nowMs();
    const seen = this.last.get(key);
    if (seen !== undefined && now - seen.atMs < refusalLogIntervalMs) {
      seen.suppressed++;
      return;
    }
    if (seen === undefined && this.last.size >= refusalKeysMax) this.last.clear();
    const more = seen !== undefined && seen.suppressed > 0 ? { suppressed: seen.suppressed, suppressedSeconds: Math.round((now - seen.atMs) / 1000) } : {};
    this.last.set(key, { atMs: now, suppressed: 0 });
    this.log(e.message, { peer, ...more });
  }
}

/** What a verified call carries to the handlers that check keys. */
interface CallAccess {
  readonly keys: KeyAccess | undefined;
}

/** The key checks of the Batch calls AuthorizedServer admitted on mtls servers. */
const callAccess = new WeakMap<object, CallAccess>();

/**
 * The key check of a Batch call as its server admitted it: undefined when every key is
 * allowed (an insecure server, an admin, a client without prefix). Refusals it returns are
 * logged like the server's other refusals.
 */
export function batchKeyAccess(call: object): KeyAccess | undefined {
  return callAccess.get(call)?.keys;
}

/**
 * Logs one refusal: `msg` is the refusal's one-line message ("permission denied: client "app"
 * may not Join (admin only)", the same for every refusal of that identity and action, so
 * logs can be searched for it); `fields` say where the call came from (`peer`) and, when
 * refusals like it went unlogged since the last line, how many (`suppressed`) in how many
 * seconds (`suppressedSeconds`).
 */
export type RefusalLogger = (msg: string, fields: { readonly peer: string; readonly suppressed?: number; readonly suppressedSeconds?: number }) => void;

export interface AuthorizedServerOptions {
  /** How callers authenticate; `insecure` allows everything. */
  readonly access: AccessMode;
  /** Where refusals are logged (one line each, rate-limited). */
  readonly log: RefusalLogger;
  /** The clock of the log's rate limit (default: the real one). */
  readonly nowMs?: () => number;
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> & { emit(event: "error", e: unknown): boolean };
type Handler = (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => void;

/**
 * A grpc.Server whose every service is authorized: `addService` asserts that the table names
 * each of its methods and, in `mtls` mode, registers each handler behind the role check (the
 * first thing that runs for a call, before the handler looks at the request or any state).
 */
export class AuthorizedServer extends grpc.Server {
  private readonly refusals: RefusalLog;

  constructor(options: grpc.ServerOptions, readonly authz: AuthorizedServerOptions) {
    super(options);
    this.refusals = new RefusalLog(authz.log, authz.nowMs ?? (() => realClock.nowMs()));
  }

  override addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    for (const method of Object.values(service)) assert(methodRoles[method.path] !== undefined, `no roles for ${method.path} in methodRoles`);
    if (this.authz.access === "insecure") {
      super.addService(service, implementation);
      return;
    }
    const out: grpc.UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(service)) {
      const h = implementation[name] as Handler | undefined;
      if (h !== undefined) out[name] = this.guard(method, h) as grpc.UntypedHandleCall;
    }
    super.addService(service, out);
  }

  /** `h` behind the role check of `method`; Batch calls also get their key check. */
  private guard(method: grpc.MethodDefinition<unknown, unknown>, h: Handler): Handler {
    const streamsReplies = method.responseStream;
    return (call, callback) => {
      const refused = this.refusal(call, method.path);
      if (refused === undefined) return h(call, callback);
      this.refusals.refused(refused, call.getPeer());
      const status = toServiceError(refused);
      // Unary and client-streaming calls answer through their callback; calls that stream
      // replies end with the status of an error emitted on them.
      if (streamsReplies || callback === undefined) call.emit("error", status);
      else callback(status as grpc.ServiceError, null);
    };
  }

  /** Why `call` may not call `path`, or undefined; records the key check of an admitted call. */
  private refusal(call: AnyCall, path: string): PermissionDeniedError | undefined {
    let id: Identity;
    try {
      id = peerIdentity(call);
    } catch (e) {
      if (!(e instanceof NotAnIdentityError)) throw e;
      return new PermissionDeniedError("a caller whose certificate names no shardkv identity", path.slice(path.lastIndexOf("/") + 1), e.message);
    }
    const refused = refuseMethod(id, path);
    if (refused !== undefined) return refused;
    const keys = keyAccessOf(id);
    if (keys !== undefined) {
      const peer = call.getPeer();
      callAccess.set(call, {
        keys: (key, action) => {
          const r = keys(key, action);
          if (r !== undefined) this.refusals.refused(r, peer, `${action} outside its prefix`);
          return r;
        },
      });
    }
    return undefined;
  }
}
