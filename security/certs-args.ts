/**
 * The command line of `shardctl certs` (init, issue, show): parsing, by the rules of every
 * shardkv command (common/cli-args.ts), and the usage text. Pure; security/certs-command.ts
 * runs what it returns.
 */
import { type FlagValues, UsageError, checkCommandFlags, flag, parseCommandLine, parseInteger, required, usage } from "../common/cli-args";
import { keyBytesMax } from "../common/limits";

/** The roles a leaf certificate can carry (security/identity.ts Role). */
export const leafRoles = ["node", "admin", "client"] as const;
export type LeafRole = (typeof leafRoles)[number];

/** Validity of a new CA unless --days says otherwise: 10 years. */
export const caDaysDefault = 3650;
/** Validity of a new leaf certificate unless --days says otherwise: 1 year. */
export const leafDaysDefault = 365;
/** The longest --days accepted: 100 years. */
export const daysMax = 36_500;
/** The CA's common name unless --name says otherwise. */
export const caNameDefault = "shardkv CA";
/** Longest common name (RFC 5280 ub-common-name). */
export const nameLengthMax = 64;

export const certsUsageText = `usage: shardctl certs COMMAND [options]

Makes and inspects the cluster's certificates (docs/operations.md, "Security").

commands:
  init --ca-dir DIR [--days D] [--name N]
        make a new cluster CA in DIR: ca.crt and ca.key (0600; a new DIR 0700); refuses to
        overwrite an existing CA (default: ${caDaysDefault} days, name "${caNameDefault}")
  issue node|admin|client --ca-dir DIR --out DIR --name N [--addr HOST[,HOST...]]
        [--prefix P] [--days D]
        sign a certificate for role and name N with the CA of --ca-dir; writes
        OUT/N.crt, OUT/N.key (0600) and OUT/ca.crt; re-issuing replaces N.crt and N.key
        (default: ${leafDaysDefault} days, at most until the CA expires)
          node: --addr is required: the host names and IP addresses clients dial it by
          client: --prefix limits it to the keys starting with P
  show FILE
        print what a certificate file holds (every certificate of a bundle)

options:
  --json   show: one JSON object per certificate, one per line
  -h, --help

exit status: 0 success; 2 usage error; 3 the operation failed or was refused (one line
"shardctl: <reason>" on stderr).
`;

export type CertsCommand =
  | { readonly kind: "init"; readonly caDir: string; readonly days: number; readonly name: string }
  | {
    readonly kind: "issue";
    readonly role: LeafRole;
    readonly caDir: string;
    readonly outDir: string;
    readonly name: string;
    readonly addrs: readonly string[];
    readonly prefix?: Uint8Array;
    readonly days: number;
  }
  | { readonly kind: "show"; readonly file: string; readonly json: boolean };

export type CertsParseResult =
  | { readonly kind: "run"; readonly command: CertsCommand }
  | { readonly kind: "help" }
  | { readonly kind: "usage-error"; readonly message: string };

/**
 * A certificate's name: it is the common name and the file name, so letters, digits and
 * . _ @ - only, starting with a letter or digit, at most nameLengthMax characters; "ca" is
 * taken (ca.crt).
 */
export function parseName(field: string, s: string): string {
  if (!new RegExp(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,${nameLengthMax - 1}}$`).test(s)) {
    throw usage(field, `want letters, digits and . _ @ - (starting with a letter or digit, at most ${nameLengthMax}), got ${JSON.stringify(s)}`);
  }
  if (s === "ca") throw usage(field, `"ca" is taken by the CA's certificate (ca.crt); choose another name`);
  return s;
}

/** The CA's name: any printable text, at most nameLengthMax characters. */
function parseCaName(field: string, s: string): string {
  if (s.trim() === "" || s.length > nameLengthMax || !/^[\x20-\x7e]+$/.test(s)) {
    throw usage(field, `want printable text of 1 to ${nameLengthMax} characters, got ${JSON.stringify(s)}`);
  }
  return s;
}

/** A host name (DNS labels) or an IP address. */
function isHost(s: string): boolean {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(s)) return s.split(".").every((o) => Number(o) <= 255 && String(Number(o)) === o);
  if (s.includes(":")) return /^[0-9a-fA-F:.]+$/.test(s) && s.split("::").length <= 2;
  return s.length <= 253 && s.split(".").every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

/** `--addr`: comma-separated host names and IP addresses (no ports), no duplicates. */
export function parseHosts(field: string, s: string): string[] {
  const hosts = s.split(",");
  for (const h of hosts) {
    if (h === "") throw usage(field, `empty entry in ${JSON.stringify(s)}`);
    if (/^[^:]+:\d+$/.test(h) || /^\[.*\]:\d+$/.test(h)) throw usage(field, `want host names or IP addresses without a port, got ${JSON.stringify(h)}`);
    if (!isHost(h)) throw usage(field, `not a host name or IP address: ${JSON.stringify(h)}`);
  }
  const dup = hosts.find((h, i) => hosts.indexOf(h) !== i);
  if (dup !== undefined) throw usage(field, `${JSON.stringify(dup)} is listed twice`);
  return hosts;
}

/** `--prefix`: the UTF-8 bytes of the text, 1 to keyBytesMax of them. */
function parsePrefix(field: string, s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.length === 0 || b.length > keyBytesMax) throw usage(field, `want 1 to ${keyBytesMax} bytes, got ${b.length}`);
  return b;
}

const flags = {
  "ca-dir": flag.nonEmpty(),
  out: flag.nonEmpty(),
  name: flag.string(),
  addr: flag.of(parseHosts),
  prefix: flag.string(),
  days: flag.of((f, s) => parseInteger(f, s, 1, daysMax)),
  json: flag.bool(),
};

const commandNames = ["init", "issue", "show", "help"] as const;

/** Parses the arguments after `shardctl certs`. Pure. */
export function parseCertsArgs(argv: readonly string[]): CertsParseResult {
  try {
    return parse(argv);
  } catch (e) {
    if (e instanceof UsageError) return { kind: "usage-error", message: e.message };
    throw e;
  }
}

function parse(argv: readonly string[]): CertsParseResult {
  const cl = parseCommandLine(argv, flags);
  if (cl.help) return { kind: "help" };
  const v = cl.values;
  const [name, ...args] = cl.positionals;
  if (name === undefined) throw new UsageError("missing certs command (init, issue, show; see shardctl certs --help)");
  if (!(commandNames as readonly string[]).includes(name)) throw new UsageError(`unknown certs command ${JSON.stringify(name)} (init, issue, show; see shardctl certs --help)`);
  if (name === "help") return { kind: "help" };
  checkCommandFlags(v, name, {
    "ca-dir": ["init", "issue"], out: ["issue"], name: ["init", "issue"], addr: ["issue"], prefix: ["issue"], days: ["init", "issue"], json: ["show"],
  });
  const stray = (count: number) => {
    if (args.length > count) throw new UsageError(`unexpected argument ${JSON.stringify(args[count])} (see shardctl certs --help)`);
  };
  switch (name as Exclude<(typeof commandNames)[number], "help">) {
    case "init":
      stray(0);
      return {
        kind: "run",
        command: {
          kind: "init", caDir: required(v["ca-dir"], "ca-dir"), days: v.days ?? caDaysDefault,
          name: v.name === undefined ? caNameDefault : parseCaName("--name", v.name),
        },
      };
    case "issue": return { kind: "run", command: parseIssue(args, v) };
    case "show":
      if (args.length === 0) throw usage("show", "want the certificate FILE to show");
      stray(1);
      return { kind: "run", command: { kind: "show", file: args[0]!, json: v.json === true } };
  }
}

function parseIssue(args: readonly string[], v: FlagValues<typeof flags>): CertsCommand {
  const role = args[0];
  if (role === undefined) throw usage("issue", `want a role: ${leafRoles.join(", ")}`);
  if (!(leafRoles as readonly string[]).includes(role)) throw usage("role", `want ${leafRoles.join(", ")}, got ${JSON.stringify(role)}`);
  if (args.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(args[1])} (see shardctl certs --help)`);
  const caDir = required(v["ca-dir"], "ca-dir");
  const outDir = required(v.out, "out");
  const name = parseName("--name", required(v.name, "name"));
  if (role === "node" && v.addr === undefined) {
    throw usage("--addr", "missing (required for node certificates: the host names and IP addresses clients dial the node by; gRPC checks them)");
  }
  if (role !== "node" && v.addr !== undefined) throw usage("--addr", `only valid for node certificates, not ${role}`);
  if (role !== "client" && v.prefix !== undefined) throw usage("--prefix", `only valid for client certificates, not ${role}`);
  const prefix = v.prefix === undefined ? undefined : parsePrefix("--prefix", v.prefix);
  return {
    kind: "issue", role: role as LeafRole, caDir, outDir, name, addrs: v.addr ?? [], days: v.days ?? leafDaysDefault,
    ...(prefix !== undefined ? { prefix } : {}),
  };
}
