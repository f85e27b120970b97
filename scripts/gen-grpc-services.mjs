// Writes the gRPC service module of one .proto file (proto/gen/<name>-grpc.ts), called by
// scripts/gen-proto.mjs after pbjs. Per `service` block of the file: its grpc-js definition
// (method paths, stream kinds, serializers of the generated protobufjs classes, through
// common/grpc-service.ts's grpcMethod), the handlers a server implements and the typed stub
// with its constructor. Services of imported files are left to their own file's module, so a
// program loads only the services it uses.
import protobuf from "protobufjs";

/** The handler type (grpc-js) and stub method type (common/grpc-service.ts) of each stream kind. */
const kinds = {
  unary: { handler: "grpc.handleUnaryCall", call: "UnaryCall" },
  serverStream: { handler: "grpc.handleServerStreamingCall", call: "ServerStreamCall" },
  clientStream: { handler: "grpc.handleClientStreamingCall", call: "ClientStreamCall" },
  bidi: { handler: "grpc.handleBidiStreamingCall", call: "BidiStreamCall" },
};

function kindOf(m) {
  if (m.requestStream) return m.responseStream ? "bidi" : "clientStream";
  return m.responseStream ? "serverStream" : "unary";
}

const lowerFirst = (s) => s[0].toLowerCase() + s.slice(1);
/** ".shardkv.kv.GetRequest" -> "shardkv.kv.GetRequest", a path into the generated namespaces. */
const tsName = (type) => type.fullName.slice(1);
const comment = (lines, indent = "") =>
  lines.length === 1 ? `${indent}/** ${lines[0]} */` : [`${indent}/**`, ...lines.map((l) => `${indent} * ${l}`), `${indent} */`].join("\n");

function servicesOf(ns, file, out = []) {
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Service && o.filename === file) out.push(o);
    if (o.nestedArray) servicesOf(o, file, out);
  }
  return out;
}

/** The text of one method's line in the definition table. */
function definitionLine(m) {
  const path = `/${m.parent.fullName.slice(1)}/${m.name}`;
  const stream = [m.requestStream && "requestStream: true", m.responseStream && "responseStream: true"].filter(Boolean);
  const kind = stream.length ? `, { ${stream.join(", ")} }` : "";
  return `  ${lowerFirst(m.name)}: grpcMethod(${JSON.stringify(path)}, ${tsName(m.resolvedRequestType)}, ${tsName(m.resolvedResponseType)}${kind}),`;
}

function methodDoc(m, indent) {
  const req = `${m.requestStream ? "stream " : ""}${m.requestType}`;
  const res = `${m.responseStream ? "stream " : ""}${m.responseType}`;
  const sig = `\`rpc ${m.name}(${req}) returns (${res})\``;
  return comment(m.comment ? [m.comment.replace(/\s+/g, " ").trim(), sig] : [sig], indent);
}

function serviceText(svc, protoPath, used) {
  const name = svc.name;
  const full = svc.fullName.slice(1);
  const def = `${lowerFirst(name)}Service`;
  const methods = svc.methodsArray;
  const about = svc.comment ? [svc.comment.replace(/\s+/g, " ").trim()] : [];
  const handlers = methods.map((m) => {
    const k = kinds[kindOf(m)];
    return `${methodDoc(m, "  ")}\n  ${lowerFirst(m.name)}: ${k.handler}<${tsName(m.resolvedRequestType)}, ${tsName(m.resolvedResponseType)}.$Properties>;`;
  });
  const calls = methods.map((m) => {
    const k = kinds[kindOf(m)];
    used.add(k.call);
    return `${methodDoc(m, "  ")}\n  ${lowerFirst(m.name)}: ${k.call}<${tsName(m.resolvedRequestType)}.$Properties, ${tsName(m.resolvedResponseType)}>;`;
  });
  return [
    comment([`The definition of service \`${full}\` (${protoPath}), for \`server.addService\` and the stub.`, ...about]),
    `export const ${def} = {`,
    ...methods.map(definitionLine),
    "} satisfies grpc.ServiceDefinition;",
    "",
    comment([`What a server of \`${full}\` implements (\`server.addService(${def}, impl)\`).`]),
    `export interface ${name}Implementation extends grpc.UntypedServiceImplementation {`,
    ...handlers,
    "}",
    "",
    comment([`A client of \`${full}\`: a channel to one server, whose methods call it.`]),
    `export interface ${name}Stub extends grpc.Client {`,
    ...calls,
    "}",
    "",
    comment([`Opens a ${name}Stub: \`new ${name}Stub(address, credentials, options)\`.`]),
    `export const ${name}Stub = grpc.makeGenericClientConstructor(${def}, ${JSON.stringify(name)}) as unknown as StubConstructor<${name}Stub>;`,
  ].join("\n");
}

/**
 * The service module of `protoFile` (absolute path; `protoPath` is how the header names it,
 * `jsModule` the generated message module to import, e.g. "./shardkv.js"), or undefined when
 * the file declares no service.
 */
export function grpcServiceModule(protoFile, protoPath, jsModule) {
  const root = new protobuf.Root();
  root.loadSync(protoFile, { keepCase: false, alternateCommentMode: true });
  root.resolveAll();
  const services = servicesOf(root, protoFile);
  if (services.length === 0) return undefined;
  const used = new Set(["StubConstructor"]);
  const bodies = services.map((s) => serviceText(s, protoPath, used));
  const types = services.flatMap((s) => s.methodsArray.flatMap((m) => [m.resolvedRequestType, m.resolvedResponseType]));
  const namespaces = [...new Set(types.map((t) => tsName(t).split(".")[0]))].sort();
  const runtime = [...[...used].sort().map((u) => `type ${u}`), "grpcMethod"].join(", ");
  return [
    `// GENERATED by scripts/gen-proto.mjs from ${protoPath}. Do not edit.`,
    comment([
      `The gRPC services of ${protoPath} for grpc-js, on the protobufjs classes of`,
      `${jsModule}: per service its definition, the handlers a server implements and the typed`,
      "stub of a client.",
    ]),
    'import * as grpc from "@grpc/grpc-js";',
    `import { ${runtime} } from "../../common/grpc-service";`,
    `import { ${namespaces.join(", ")} } from ${JSON.stringify(jsModule)};`,
    "",
    bodies.join("\n\n"),
    "",
  ].join("\n");
}
