/**
 * The main of a command with subcommands (shardkv-local, `npm run hosts`): parse argv, print
 * the usage for help, run the command, and turn its outcome into the exit status of every
 * shardkv command (common/cli-args.ts): 0, 2 with one line for a usage error, 3 with one line
 * (`<name> <command>: <first line of the error>`, any further lines such as a log tail after
 * it) when it failed; a command may set process.exitCode itself. The process ends once its
 * output is written (exitWhenWritten: piped output is not cut).
 */
import { UsageError, exitCodeNow, exitFailure, exitUsage, exitWhenWritten } from "../../common/cli-args";

export async function commandMain<C extends { readonly kind: string }>(opts: {
  readonly name: string;
  readonly parse: (argv: readonly string[]) => C;
  readonly usageText: string;
  readonly run: (cmd: Exclude<C, { kind: "help" }>) => Promise<void>;
}): Promise<void> {
  let cmd: C;
  try {
    cmd = opts.parse(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${opts.name}: ${e.message} (--help for usage)\n`);
    exitWhenWritten(exitUsage);
    return;
  }
  if (cmd.kind === "help") {
    process.stdout.write(`${opts.usageText}\n`);
    return;
  }
  try {
    await opts.run(cmd as Exclude<C, { kind: "help" }>);
    exitWhenWritten(exitCodeNow());
  } catch (e) {
    // One line: the first line of the message (a log tail, if any, follows on stderr).
    const [first, ...rest] = (e as Error).message.split("\n");
    process.stderr.write(`${opts.name} ${cmd.kind}: ${first}\n${rest.length ? rest.join("\n") + "\n" : ""}`);
    exitWhenWritten(exitFailure);
  }
}
