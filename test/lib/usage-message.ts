/** For tests of command lines: the one-line message of the UsageError a parser throws. */
import { expect } from "vitest";
import { UsageError } from "../../common/cli-args";

/** The message of the UsageError `f` throws (checked to be one line); fails when it throws none. */
export function usageMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("expected a UsageError");
}
