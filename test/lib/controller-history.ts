/**
 * A controller replica's whole config history as it holds it: Watch from config 0, read up to
 * a given config number. Works on followers too (Watch is served by every replica), so tests
 * compare what each replica's Raft log applied.
 */
import { wallClockMs } from "../../common/real-env";
import { configFromWire } from "../../controller/codec";
import type { Config } from "../../controller/config";
import { controllerStub } from "../../controller/grpc-service";
import type { shardkv } from "../../proto/gen/controller.js";
import { Security } from "../../security/credentials";

/** Reads replica `address`'s history with Watch from 0 up to config `upTo`. */
export async function watchHistory(address: string, upTo: number, timeoutMs = 10000): Promise<Config[]> {
  const stub = controllerStub(address, Security.insecure());
  const stream = stub.watch({ fromNum: 0 }, { deadline: new Date(wallClockMs() + timeoutMs) });
  stream.on("error", () => {}); // the cancel below ends the stream with CANCELLED
  const out: Config[] = [];
  try {
    for await (const w of stream as AsyncIterable<shardkv.controller.Config>) {
      out.push(configFromWire(w));
      if (out[out.length - 1]!.num >= upTo) break;
    }
  } finally {
    stream.cancel();
    stub.close();
  }
  return out;
}
