/**
 * A progress line for long work in a CLI (shardkv-local add-group, shardctl join --wait):
 * on a terminal, one line rewritten in place as the work moves; piped (a script, a log file),
 * plain lines, a new one only when the text changed and at most one per `plainEveryMs`, and
 * the last state if it was held back at the end (or before a line `say` prints). Lines
 * printed meanwhile by the command go through `say`, which clears the rewritten line first so
 * the two never mix.
 */
import type { Clock } from "./env";

/** Where progress goes: a stream and whether it is a terminal (process.stdout in the CLIs). */
export interface ProgressOutput {
  readonly isTTY?: boolean;
  write(s: string): unknown;
}

/** Plain (not a terminal) progress lines come at most this often by default. */
export const plainProgressEveryMsDefault = 3000;

export class ProgressLine {
  private readonly tty: boolean;
  /** On a terminal: the line now shown (not yet ended by a newline). */
  private shown: string | undefined;
  /** Piped: the last line printed, when, and the newest one held back since. */
  private printed: string | undefined;
  private printedAtMs = -Infinity;
  private held: string | undefined;

  constructor(
    private readonly out: ProgressOutput,
    private readonly clock: Clock,
    private readonly opts: { readonly plainEveryMs?: number; readonly indent?: string } = {},
  ) {
    this.tty = out.isTTY === true;
  }

  /** The work's state now. */
  update(line: string): void {
    const text = `${this.opts.indent ?? ""}${line}`;
    if (this.tty) {
      if (text === this.shown) return;
      this.out.write(`\r\x1b[2K${text}`);
      this.shown = text;
      return;
    }
    if (text === this.printed) {
      this.held = undefined;
      return;
    }
    if (this.clock.nowMs() - this.printedAtMs < (this.opts.plainEveryMs ?? plainProgressEveryMsDefault)) {
      this.held = text;
      return;
    }
    this.printLine(text);
  }

  /**
   * Prints `line` as a line of its own (not progress): on a terminal the progress line is
   * cleared first and redrawn after it; piped, a progress line held back is printed first
   * (the lines stay in the order things happened).
   */
  say(line: string): void {
    if (this.tty && this.shown !== undefined) {
      this.out.write(`\r\x1b[2K${line}\n${this.shown}`);
      return;
    }
    if (!this.tty && this.held !== undefined) this.printLine(this.held);
    this.out.write(`${line}\n`);
  }

  /** The work ended: on a terminal the last progress line stays; piped, a held-back last state is printed. */
  done(): void {
    if (this.tty) {
      if (this.shown !== undefined) this.out.write("\n");
      this.shown = undefined;
      return;
    }
    if (this.held !== undefined) this.printLine(this.held);
  }

  private printLine(text: string): void {
    this.out.write(`${text}\n`);
    this.printed = text;
    this.printedAtMs = this.clock.nowMs();
    this.held = undefined;
  }
}
