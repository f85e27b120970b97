/** Errors of the shard group beyond common/errors.ts's closed set (mapped to its codes). */
import { InvalidArgumentError, ShardKVError } from "../common/errors";
import type { ConfigNum, ShardId } from "../common/ids";
import { describeKey, formatBytes, formatLimit } from "../common/limits";

/** The previous owner has not reached the pull's config yet; retry later. */
export class ShardNotReadyError extends ShardKVError {
  readonly code = "Stopped";
  constructor(readonly shard: ShardId, readonly configNum: ConfigNum, readonly atConfigNum: ConfigNum) {
    super(`shard ${shard} cannot be pulled for config ${configNum} yet: this group is at config ${atConfigNum} (retry)`);
  }
}

/**
 * An append refused when applied because the value it would produce exceeds the value limit;
 * nothing changed. InvalidArgument on the wire (final: retrying cannot succeed).
 */
export class ValueLimitError extends InvalidArgumentError {
  constructor(readonly key: Uint8Array, readonly currentBytes: number, readonly addedBytes: number, readonly limitBytes: number) {
    super(
      "value",
      `appending ${formatBytes(addedBytes)} to key ${describeKey(key)} (now ${formatBytes(currentBytes)}) would make its value ` +
        `${formatBytes(currentBytes + addedBytes)}; the limit is ${formatLimit(limitBytes)}`,
    );
  }
}
