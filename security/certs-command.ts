/**
 * `shardctl certs`: runs what security/certs-args.ts parsed (init, issue, show), prints, and
 * returns the exit status. controller/shardctl.ts imports this module with `import()` only
 * for `shardctl certs`, so the other commands never load the X.509 code.
 */
import { exitFailure, exitOk, exitUsage, oneLine } from "../common/cli-args";
import { wallClockMs } from "../common/real-env";
import { CertsError, initCa, issue } from "./authority";
import { certificateToJson, formatCertificate, readCertificates } from "./certificate-info";
import { type CertsCommand, certsUsageText, parseCertsArgs } from "./certs-args";
import { describeIdentity } from "./identity";

/** Where the command writes: stdout (results) and stderr (the failure line). */
export interface CertsOutput {
  out(text: string): void;
  err(text: string): void;
}

async function run(cmd: CertsCommand, io: CertsOutput): Promise<void> {
  switch (cmd.kind) {
    case "init": {
      const r = await initCa(cmd);
      io.out(`created CA "${cmd.name}" in ${cmd.caDir}, valid until ${r.cert.notAfter.toISOString()}`);
      io.out(`  ${r.certFile}  the CA certificate: copy it to every node and client (issue does)`);
      io.out(`  ${r.keyFile}  the CA key (0600): keep it here, offline if you can`);
      return;
    }
    case "issue": {
      const r = await issue(cmd);
      const who = describeIdentity({ role: cmd.role, name: cmd.name, ...(cmd.prefix ? { prefix: cmd.prefix } : {}) });
      io.out(`issued ${who}${cmd.addrs.length > 0 ? ` for ${cmd.addrs.join(", ")}` : ""}, valid until ${r.cert.notAfter.toISOString()}`);
      io.out(`  ${r.certFile}`);
      io.out(`  ${r.keyFile}  (0600)`);
      if (r.caFile !== undefined) io.out(`  ${r.caFile}`);
      return;
    }
    case "show": {
      const now = wallClockMs();
      const infos = readCertificates(cmd.file);
      if (cmd.json) for (const i of infos) io.out(JSON.stringify(certificateToJson(i, now)));
      else io.out(infos.map((i) => formatCertificate(i, now)).join("\n\n"));
    }
  }
}

/**
 * Runs `shardctl certs` with `argv` (the arguments after "certs"); resolves with the exit
 * status: 0 done; 2 usage error; 3 refused or failed (one line on stderr).
 */
export async function certsMain(argv: readonly string[], io: CertsOutput): Promise<number> {
  const parsed = parseCertsArgs(argv);
  const fail = (reason: string, code: number): number => {
    io.err(`shardctl: ${oneLine(reason)}`);
    return code;
  };
  switch (parsed.kind) {
    case "help": io.out(certsUsageText.trimEnd()); return exitOk;
    case "usage-error": return fail(parsed.message, exitUsage);
    case "run":
      try {
        await run(parsed.command, io);
        return exitOk;
      } catch (e) {
        if (e instanceof CertsError) return fail(e.message, exitFailure);
        const code = (e as NodeJS.ErrnoException).code;
        if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return fail(`${(e as Error).message}`, exitFailure);
        return fail(`unexpected error: ${e instanceof Error ? e.message : String(e)}`, exitFailure);
      }
  }
}
