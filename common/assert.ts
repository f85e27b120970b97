/**
 * Assertions for broken invariants (bugs). Nobody catches an AssertionFailure: the process
 * dies and restarts from disk (TigerBeetle keeps assertions on in production). Expected
 * failures are typed errors (common/errors.ts) instead.
 */
export class AssertionFailure extends Error {
  override name = "AssertionFailure";
}

export function assert(cond: unknown, msg: string | (() => string)): asserts cond {
  if (!cond) throw new AssertionFailure(typeof msg === "function" ? msg() : msg);
}

export function unreachable(x: never, what: string): never {
  throw new AssertionFailure(`unreachable ${what}: ${String(x)}`);
}
