/** Errors of the shard group beyond common/errors.ts's closed set (mapped to its codes). */
import { ShardKVError } from "../common/errors";
import type { ConfigNum, ShardId } from "../common/ids";

/** The previous owner has not reached the pull's config yet; retry later. */
export class ShardNotReadyError extends ShardKVError {
  readonly code = "Stopped";
  constructor(readonly shard: ShardId, readonly configNum: ConfigNum, readonly atConfigNum: ConfigNum) {
    super(`shard ${shard} cannot be pulled for config ${configNum} yet: this group is at config ${atConfigNum} (retry)`);
  }
}
