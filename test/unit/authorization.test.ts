/**
 * security/authorization.ts: the table names every RPC method of every service in proto/ (read
 * from the .proto files and from the generated definitions), and a server cannot host a method
 * it does not name. Then a real grpc.Server (AuthorizedServer, mutual TLS on 127.0.0.1,
 * certificates made by security/authority.ts) hosting every service with handlers that record
 * that they ran: every method called with a node, an admin and a client certificate runs for
 * the roles the table names and, for the others, fails PERMISSION_DENIED with one line naming
 * the identity and the action, before its handler runs (nothing changes). A client certificate
 * limited to "app/" has its Batch requests outside the prefix answered PERMISSION_DENIED one by
 * one (a write with one key outside is refused whole) while the others run. Refusals are
 * logged once per identity and action per interval. An insecure server allows everything.
 */
import * as grpc from "@grpc/grpc-js";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PermissionDeniedError } from "../../common/errors";
import { fromServiceError, fromWireError } from "../../common/grpc-errors";
import { wallClockMs } from "../../common/real-env";
import { shardkv as kvpb } from "../../proto/gen/shardkv.js";
import { shardKVService } from "../../proto/gen/shardkv-grpc";
import { serveGrpcBatch, type BatchCall } from "../../shard-server/grpc-service";
import { type AccessMode, AuthorizedServer, describeRoles, methodRoles, refusalLogIntervalMs } from "../../security/authorization";
import { channelCredentials, serverCredentials } from "../../security/credentials";
import { type Role, roles } from "../../security/identity";
import { TlsSource } from "../../security/tls-files";
import { TestPki } from "../lib/certs";

const protoDir = join(__dirname, "../../proto");
const genDir = join(protoDir, "gen");

/** Every "/package.Service/Method" the .proto files declare. */
function protoMethodPaths(): string[] {
  const paths: string[] = [];
  for (const f of readdirSync(protoDir).filter((n) => n.endsWith(".proto"))) {
    const text = readFileSync(join(protoDir, f), "utf8").replace(/\/\/.*$/gm, "");
    const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(text)?.[1];
    for (const svc of text.matchAll(/service\s+(\w+)\s*\{([^}]*)\}/g)) {
      for (const rpc of svc[2]!.matchAll(/rpc\s+(\w+)\s*\(/g)) paths.push(`/${pkg}.${svc[1]}/${rpc[1]}`);
    }
  }
  return paths.sort();
}

/** Every service definition the generated modules export (proto/gen/*-grpc.ts). */
async function generatedServices(): Promise<grpc.ServiceDefinition[]> {
  const out: grpc.ServiceDefinition[] = [];
  for (const f of readdirSync(genDir).filter((n) => n.endsWith("-grpc.ts"))) {
    const mod = (await import(join(genDir, f))) as Record<string, unknown>;
    for (const v of Object.values(mod)) {
      if (typeof v !== "object" || v === null) continue;
      const methods = Object.values(v as Record<string, unknown>);
      if (methods.length > 0 && methods.every((m) => typeof (m as { path?: unknown }).path === "string")) out.push(v as grpc.ServiceDefinition);
    }
  }
  return out;
}

describe("the table", () => {
  it("names every method of every service, in the .proto files and the generated definitions, and nothing else", async () => {
    const fromProto = protoMethodPaths();
    const generated = (await generatedServices()).flatMap((s) => Object.values(s).map((m) => m.path)).sort();
    expect(fromProto.length).toBeGreaterThanOrEqual(20);
    expect(generated).toEqual(fromProto);
    expect(Object.keys(methodRoles).sort()).toEqual(fromProto);
    for (const [path, rs] of Object.entries(methodRoles)) {
      expect(rs.length, path).toBeGreaterThan(0);
      for (const r of rs) expect(roles, path).toContain(r);
    }
  });

  it("a server refuses to host a method the table does not name", () => {
    const server = new AuthorizedServer({}, { access: "insecure", log: () => undefined });
    const def = { extra: { ...shardKVService.status, path: "/shardkv.kv.ShardKV/Extra" } } as unknown as grpc.ServiceDefinition;
    expect(() => server.addService(def, { extra: () => undefined })).toThrow(/no roles for \/shardkv\.kv\.ShardKV\/Extra/);
  });

  it("says who may in words", () => {
    expect(describeRoles(["admin"])).toBe("admin only");
    expect(describeRoles(["node", "admin"])).toBe("nodes and admins only");
    expect(describeRoles(["node", "admin", "client"])).toBe("nodes, admins and clients only");
  });
});

type Kind = "unary" | "clientStream" | "serverStream" | "bidi";
const kindOf = (m: grpc.MethodDefinition<unknown, unknown>): Kind =>
  m.requestStream ? (m.responseStream ? "bidi" : "clientStream") : m.responseStream ? "serverStream" : "unary";

/** A handler for `m` that records `m.path` in `ran` and answers an empty message (or ends its stream). */
function recordingHandler(m: grpc.MethodDefinition<unknown, unknown>, ran: string[]): grpc.UntypedHandleCall {
  const empty = m.responseDeserialize(Buffer.alloc(0));
  switch (kindOf(m)) {
    case "unary":
      return ((_call: unknown, cb: grpc.sendUnaryData<unknown>) => (ran.push(m.path), cb(null, empty))) as grpc.UntypedHandleCall;
    case "clientStream":
      return ((call: grpc.ServerReadableStream<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        ran.push(m.path);
        call.on("data", () => undefined);
        call.on("end", () => cb(null, empty));
      }) as grpc.UntypedHandleCall;
    case "serverStream":
      return ((call: grpc.ServerWritableStream<unknown, unknown>) => (ran.push(m.path), call.end())) as grpc.UntypedHandleCall;
    case "bidi":
      return ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
        ran.push(m.path);
        call.on("data", () => undefined);
        call.on("end", () => call.end());
      }) as grpc.UntypedHandleCall;
  }
}

type Outcome = { readonly ok: true } | { readonly ok: false; readonly code: number; readonly error: unknown };

/** Calls `m` once with an empty request (streams: one empty message, then the end). */
function callMethod(client: grpc.Client, m: grpc.MethodDefinition<unknown, unknown>): Promise<Outcome> {
  const req = m.requestDeserialize(Buffer.alloc(0));
  const opts = { deadline: wallClockMs() + 10_000 };
  const md = new grpc.Metadata();
  const ser = m.requestSerialize;
  const de = m.responseDeserialize;
  return new Promise((resolve) => {
    const failed = (e: grpc.ServiceError) => resolve({ ok: false, code: e.code, error: fromServiceError(e) });
    const cb = (e: grpc.ServiceError | null) => (e ? failed(e) : resolve({ ok: true }));
    switch (kindOf(m)) {
      case "unary":
        client.makeUnaryRequest(m.path, ser, de, req, md, opts, cb);
        return;
      case "clientStream": {
        const s = client.makeClientStreamRequest(m.path, ser, de, md, opts, cb);
        s.write(req);
        s.end();
        return;
      }
      case "serverStream": {
        const s = client.makeServerStreamRequest(m.path, ser, de, req, md, opts);
        s.on("data", () => undefined);
        s.on("error", failed);
        s.on("end", () => resolve({ ok: true }));
        return;
      }
      case "bidi": {
        const s = client.makeBidiStreamRequest(m.path, ser, de, md, opts);
        s.on("data", () => undefined);
        s.on("error", failed);
        s.on("end", () => resolve({ ok: true }));
        s.write(req);
        s.end();
        return;
      }
    }
  });
}

const pki = new TestPki();
const sources: TlsSource[] = [];
const servers: grpc.Server[] = [];
const clients: grpc.Client[] = [];
let services: grpc.ServiceDefinition[];

afterAll(() => {
  for (const c of clients) c.close();
  for (const s of servers) s.forceShutdown();
  for (const s of sources) s.close();
  pki.remove();
});

function source(files: ConstructorParameters<typeof TlsSource>[0]): TlsSource {
  const s = new TlsSource(files, { reloadIntervalMs: 0 });
  sources.push(s);
  return s;
}

/** A clock the refusal log's rate limit reads. */
let nowMs = 1_000_000;

interface Served {
  readonly address: string;
  /** The paths of the handlers that ran, in order. */
  readonly ran: string[];
  /** The keys of the Batch requests that ran ("get k", "write k1,k2"). */
  readonly batchRan: string[];
  /** The refusals logged: message and fields. */
  readonly log: string[];
  readonly logFields: Record<string, unknown>[];
}

/** An AuthorizedServer hosting every service: recording handlers, and Batch through serveGrpcBatch. */
async function serveAll(access: AccessMode, creds: grpc.ServerCredentials): Promise<Served> {
  const served: Served = { address: "", ran: [], batchRan: [], log: [], logFields: [] };
  const server = new AuthorizedServer({}, { access, log: (l, fields) => void (served.log.push(l), served.logFields.push(fields)), nowMs: () => nowMs });
  servers.push(server);
  for (const def of services) {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, m] of Object.entries(def)) impl[name] = recordingHandler(m, served.ran);
    if (def === shardKVService) {
      impl["batch"] = ((call: BatchCall) => {
        served.ran.push(shardKVService.batch.path);
        serveGrpcBatch(call, {
          get: (req) => (served.batchRan.push(`get ${Buffer.from(req.key).toString()}`), Promise.resolve({ found: false })),
          write: (req) => (served.batchRan.push(`write ${req.ops.map((o) => Buffer.from(o.key ?? []).toString()).join(",")}`), Promise.resolve({ results: [] })),
          describe: (e) => e,
          stopping: () => false,
        }, undefined);
      }) as grpc.UntypedHandleCall;
    }
    server.addService(def, impl);
  }
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", creds, (e, p) => (e ? reject(e) : resolve(p))));
  return { ...served, address: `127.0.0.1:${port}` };
}

function client(address: string, creds: grpc.ChannelCredentials): grpc.Client {
  const c = new grpc.Client(address, creds, { "grpc.use_local_subchannel_pool": 1 });
  clients.push(c);
  return c;
}

describe("over mutual TLS", () => {
  let served: Served;
  const callers = new Map<Role | "prefixed", grpc.Client>();

  beforeAll(async () => {
    services = await generatedServices();
    await pki.ca();
    const nodeFiles = await pki.leaf({ role: "node", name: "n1" });
    served = await serveAll("mtls", serverCredentials(source(nodeFiles)));
    callers.set("node", client(served.address, channelCredentials(source(nodeFiles))));
    callers.set("admin", client(served.address, channelCredentials(source(await pki.leaf({ role: "admin", name: "ops" })))));
    callers.set("client", client(served.address, channelCredentials(source(await pki.leaf({ role: "client", name: "app1" })))));
    callers.set("prefixed", client(served.address, channelCredentials(source(await pki.leaf({ role: "client", name: "app2", prefix: Buffer.from("app/") })))));
  }, 60_000);

  it("every method runs for the roles the table names and is refused, before its handler, for the others", async () => {
    const names: Record<Role, string> = { node: "node \"n1\"", admin: "admin \"ops\"", client: "client \"app1\"" };
    for (const def of services) {
      for (const m of Object.values(def)) {
        for (const role of roles) {
          const before = served.ran.length;
          const r = await callMethod(callers.get(role)!, m);
          const what = `${role} calling ${m.path}`;
          if (methodRoles[m.path]!.includes(role)) {
            expect(r, what).toEqual({ ok: true });
            expect(served.ran.slice(before), what).toEqual([m.path]);
            continue;
          }
          if (r.ok) throw new Error(`${what}: allowed`);
          expect(r.code, what).toBe(grpc.status.PERMISSION_DENIED);
          expect(r.error, what).toBeInstanceOf(PermissionDeniedError);
          const action = m.path.slice(m.path.lastIndexOf("/") + 1);
          expect((r.error as Error).message, what).toBe(`permission denied: ${names[role]} may not ${action} (${describeRoles(methodRoles[m.path]!)})`);
          expect(served.ran.length, `${what}: its handler ran`).toBe(before);
        }
      }
    }
  }, 120_000);

  it("the attacks of the brief, by name: a client joining, sending Raft, pulling and deleting a shard; an admin sending Raft", async () => {
    const c = callers.get("client")!;
    const a = callers.get("admin")!;
    const refused = async (cl: grpc.Client, path: string): Promise<string> => {
      const m = services.flatMap((s) => Object.values(s)).find((x) => x.path === path)!;
      const before = served.ran.length;
      const r = await callMethod(cl, m);
      expect(served.ran.length).toBe(before);
      if (r.ok) throw new Error(`${path} allowed`);
      return (r.error as Error).message;
    };
    expect(await refused(c, "/shardkv.controller.Controller/Join")).toBe('permission denied: client "app1" may not Join (admin only)');
    expect(await refused(c, "/shardkv.raft.RaftTransport/Send")).toBe('permission denied: client "app1" may not Send (node only)');
    expect(await refused(c, "/shardkv.kv.ShardKV/PullShard")).toBe('permission denied: client "app1" may not PullShard (node only)');
    expect(await refused(c, "/shardkv.kv.ShardKV/DeleteShard")).toBe('permission denied: client "app1" may not DeleteShard (node only)');
    expect(await refused(a, "/shardkv.raft.RaftTransport/Send")).toBe('permission denied: admin "ops" may not Send (node only)');
    expect(await refused(callers.get("node")!, "/shardkv.kv.ShardKV/Batch")).toBe('permission denied: node "n1" may not Batch (admins and clients only)');
  });

  it("a client limited to app/ gets each request outside it refused, and nothing of it runs; the others run", async () => {
    const enc = (s: string) => Buffer.from(s);
    const put = (...keys: string[]) => ({ shard: 0, ops: keys.map((k) => ({ type: kvpb.kv.OpType.OP_PUT, key: enc(k), value: enc("v") })) });
    const m = shardKVService.batch;
    const s = callers.get("prefixed")!.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, new grpc.Metadata(), { deadline: wallClockMs() + 10_000 });
    const answers = new Map<number, kvpb.kv.BatchResponse.IResponse>();
    const done = new Promise<void>((resolve, reject) => {
      s.on("data", (msg: kvpb.kv.BatchResponse) => {
        for (const r of msg.responses) answers.set(Number(r.requestId), r);
        if (answers.size === 5) s.end();
      });
      s.on("end", resolve);
      s.on("error", reject);
    });
    s.write({ requests: [
      { requestId: 1, write: put("other/x") },
      { requestId: 2, write: put("app/y") },
      { requestId: 3, get: { key: enc("other/z") } },
      { requestId: 4, write: put("app/a", "other/b") },
      { requestId: 5, get: { key: enc("app/y") } },
    ] });
    await done;
    const err = (id: number) => (answers.get(id)!.error ? fromWireError(answers.get(id)!.error!) : undefined);
    expect(err(1)).toBeInstanceOf(PermissionDeniedError);
    expect(err(1)!.message).toBe('permission denied: client "app2" may not write key "other/x" (its certificate allows keys starting with "app/" only)');
    expect(err(3)!.message).toBe('permission denied: client "app2" may not read key "other/z" (its certificate allows keys starting with "app/" only)');
    expect(err(4)!.message).toMatch(/^permission denied: client "app2" may not write key "other\/b" /);
    expect(err(2)).toBeUndefined();
    expect(err(5)).toBeUndefined();
    expect(served.batchRan.filter((r) => r.includes("app/") || r.includes("other/")).sort()).toEqual(["get app/y", "write app/y"]);
  });

  it("logs a refusal in one line, then at most once per identity and action per interval, with the count", async () => {
    const leave = services.flatMap((d) => Object.values(d)).find((x) => x.path === "/shardkv.controller.Controller/Leave")!;
    const lines = () => served.log.filter((l) => l.includes('client "app1" may not Leave'));
    nowMs += refusalLogIntervalMs; // whatever was logged before is out of the interval
    const before = lines().length;
    for (let i = 0; i < 5; i++) await callMethod(callers.get("client")!, leave);
    expect(lines().length - before).toBe(1);
    expect(lines().at(-1)).toBe('permission denied: client "app1" may not Leave (admin only)');
    expect(served.logFields.at(-1)).toEqual({ peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    nowMs += refusalLogIntervalMs;
    await callMethod(callers.get("client")!, leave);
    expect(lines().length - before).toBe(2);
    expect(lines().at(-1)).toBe('permission denied: client "app1" may not Leave (admin only)');
    expect(served.logFields.at(-1)).toEqual({ peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/), suppressed: 4, suppressedSeconds: 10 });
    for (const l of served.log) expect(l).not.toMatch(/\n/);
  });
});

describe("an insecure server", () => {
  it("has no identities: every method runs for a caller without a certificate", async () => {
    services ??= await generatedServices();
    const served = await serveAll("insecure", grpc.ServerCredentials.createInsecure());
    const c = client(served.address, grpc.credentials.createInsecure());
    for (const def of services) {
      for (const m of Object.values(def)) expect(await callMethod(c, m), m.path).toEqual({ ok: true });
    }
    expect(served.ran.length).toBe(Object.keys(methodRoles).length);
    expect(served.log).toEqual([]);
  });
});
