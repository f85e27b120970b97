/**
 * Opens stubs to controller replicas (`shardkv.controller.Controller`, proto/controller.proto;
 * the definition and types are generated into proto/gen/controller-grpc.ts). Used by every
 * client of the controller but the client library (shardctl, shard servers, tests).
 */
import * as grpc from "@grpc/grpc-js";
import type { Security } from "../security/credentials";
import { ControllerStub } from "../proto/gen/controller-grpc";
import { reconnectOptions } from "../common/grpc-service";

export type { ControllerStub } from "../proto/gen/controller-grpc";

/**
 * Opens a stub to one controller replica at `address` with the credentials of `security`,
 * reconnecting at most 1 s apart (reconnectOptions). `options`: extra client options (a
 * daemon's failpoint interceptor).
 */
export function controllerStub(address: string, security: Security, options: grpc.ClientOptions = {}): ControllerStub {
  return new ControllerStub(address, security.channelCredentials(), { ...reconnectOptions, ...options });
}
