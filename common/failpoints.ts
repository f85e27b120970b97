/**
 * Failpoints: a test-only way to make one daemon lose, delay and cut off messages at run time
 * (docs/failpoints.md). This module is the pure part: the spec (what is switched on),
 * its text syntax, the decision of whether a daemon may enable failpoints at all, and the
 * per-message draws, made with an injected Rng so that a seeded run repeats its choices.
 * The gRPC adapters are common/grpc-failpoints.ts (RPC handlers and outgoing stubs) and
 * raft/transport/failpoint-transport.ts (Raft messages).
 *
 * Off by default: a daemon started without `--failpoints` (or SHARDKV_FAILPOINTS) creates no
 * Failpoints object, and every hook then returns what it was given, unwrapped.
 */
import type { Cancel, Clock, Rng } from "./env";
import { InvalidArgumentError } from "./errors";
import { validateAddress } from "./address";

/** The largest delay a failpoint adds to one message, in milliseconds. */
export const failpointDelayMsMax = 27;

/** Peers a daemon may be cut off from at once. */
export const failpointCutPeersMax = 64;

/**
 * What is switched on. Rates are probabilities per message in [0, 1]. The request and reply
 * rates act on RPCs (the ShardKV and Controller services); Raft messages have their own rate,
 * so a leader that drops every client request or reply keeps leading.
 */
export interface FailpointSpec {
  /** Incoming RPC requests dropped before they execute (the client sees no reply). */
  readonly dropRequestRate: number;
  /** RPC replies dropped after the request executed (the client sees no reply). */
  readonly dropReplyRate: number;
  /** Raft messages dropped, each one this daemon sends or receives. */
  readonly dropRaftRate: number;
  /** Each incoming message is delayed by a uniform integer in [0, delayMsMax] ms; 0 = none. */
  readonly delayMsMax: number;
  /** Peer addresses ("host:port") this daemon is cut off from, in both directions; sorted. */
  readonly cutPeers: readonly string[];
}

/** Every failpoint off. */
export const noFailpoints: FailpointSpec = Object.freeze({
  dropRequestRate: 0, dropReplyRate: 0, dropRaftRate: 0, delayMsMax: 0, cutPeers: Object.freeze([]),
});

/** Validates a spec from any source (text, the Admin RPC) and returns a normalised copy. */
export function validateFailpointSpec(s: FailpointSpec): FailpointSpec {
  const rate = (field: string, v: number): number => {
    if (!(typeof v === "number" && v >= 0 && v <= 1)) throw new InvalidArgumentError(field, `want a rate in [0, 1], got ${v}`);
    return v;
  };
  const dropRequestRate = rate("drop-request", s.dropRequestRate);
  const dropReplyRate = rate("drop-reply", s.dropReplyRate);
  const dropRaftRate = rate("drop-raft", s.dropRaftRate);
  if (!(Number.isInteger(s.delayMsMax) && s.delayMsMax >= 0 && s.delayMsMax <= failpointDelayMsMax)) {
    throw new InvalidArgumentError("delay", `want an integer number of milliseconds in [0, ${failpointDelayMsMax}], got ${s.delayMsMax}`);
  }
  if (s.cutPeers.length > failpointCutPeersMax) {
    throw new InvalidArgumentError("cut", `at most ${failpointCutPeersMax} peers, got ${s.cutPeers.length}`);
  }
  for (const a of s.cutPeers) validateAddress("cut", a);
  const cutPeers = [...new Set(s.cutPeers)].sort();
  return { dropRequestRate, dropReplyRate, dropRaftRate, delayMsMax: s.delayMsMax, cutPeers };
}

const keys = ["drop-request", "drop-reply", "drop-raft", "delay", "cut"] as const;

/**
 * Parses the text form: comma-separated `key=value` with keys `drop-request`, `drop-reply` and
 * `drop-raft` (rates in [0, 1]), `delay` (max milliseconds, integer in [0, 27]) and `cut` (peer
 * addresses joined with `+`), e.g. `drop-request=0.1,delay=27,cut=127.0.0.1:7102+127.0.0.1:7103`.
 * Keys left out are off. `none`, `clear`, `off` and the empty string mean every failpoint off.
 * Throws InvalidArgumentError naming the key and the value.
 */
export function parseFailpointSpec(text: string): FailpointSpec {
  const t = text.trim();
  if (t === "" || t === "none" || t === "clear" || t === "off") return noFailpoints;
  const got = new Map<string, string>();
  for (const part of t.split(",")) {
    const eq = part.indexOf("=");
    const key = (eq >= 0 ? part.slice(0, eq) : part).trim();
    if (!(keys as readonly string[]).includes(key)) {
      throw new InvalidArgumentError("failpoints", `unknown failpoint ${JSON.stringify(key)} in ${JSON.stringify(text)} (known: ${keys.join(", ")})`);
    }
    if (eq < 0) throw new InvalidArgumentError(key, `needs a value (${key}=...)`);
    if (got.has(key)) throw new InvalidArgumentError(key, "given twice");
    got.set(key, part.slice(eq + 1).trim());
  }
  const num = (key: string): number => {
    const v = got.get(key);
    if (v === undefined) return 0;
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
    if (Number.isNaN(n)) throw new InvalidArgumentError(key, `want a number, got ${JSON.stringify(v)}`);
    return n;
  };
  const cut = got.get("cut");
  if (cut !== undefined && cut === "") throw new InvalidArgumentError("cut", "empty peer list (want host:port+host:port...)");
  return validateFailpointSpec({
    dropRequestRate: num("drop-request"),
    dropReplyRate: num("drop-reply"),
    dropRaftRate: num("drop-raft"),
    delayMsMax: num("delay"),
    cutPeers: cut === undefined ? [] : cut.split("+").map((a) => a.trim()),
  });
}

/** The canonical text form (parseFailpointSpec inverts it); "none" when every failpoint is off. */
export function formatFailpointSpec(s: FailpointSpec): string {
  const parts: string[] = [];
  if (s.dropRequestRate > 0) parts.push(`drop-request=${s.dropRequestRate}`);
  if (s.dropReplyRate > 0) parts.push(`drop-reply=${s.dropReplyRate}`);
  if (s.dropRaftRate > 0) parts.push(`drop-raft=${s.dropRaftRate}`);
  if (s.delayMsMax > 0) parts.push(`delay=${s.delayMsMax}`);
  if (s.cutPeers.length > 0) parts.push(`cut=${s.cutPeers.join("+")}`);
  return parts.length === 0 ? "none" : parts.join(",");
}

/** The environment variables read by failpointsSetting. */
export const failpointsEnvVar = "SHARDKV_FAILPOINTS";
export const profileEnvVar = "SHARDKV_PROFILE";

/** Deployment profiles. `production` refuses failpoints. */
export const profiles = ["development", "production"] as const;
export type Profile = (typeof profiles)[number];

/**
 * Whether a daemon runs with failpoints, and with which initial spec; undefined = off (the
 * default). Sources: the `--failpoints` flag value (`on`, `none` or a spec), else the
 * SHARDKV_FAILPOINTS variable (unset, empty, `0` or `off` = off; `1` or `on` = on with nothing
 * active; else a spec). The profile comes from `--profile`, else SHARDKV_PROFILE (default
 * development). Throws InvalidArgumentError when failpoints are asked for in the production
 * profile, or when a value is malformed.
 */
export function failpointsSetting(input: {
  readonly flag?: string;
  readonly profileFlag?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}): FailpointSpec | undefined {
  const profileText = input.profileFlag ?? input.env[profileEnvVar] ?? "development";
  const profileField = input.profileFlag !== undefined ? "--profile" : `$${profileEnvVar}`;
  if (!(profiles as readonly string[]).includes(profileText)) {
    throw new InvalidArgumentError(profileField, `want one of ${profiles.join(", ")}, got ${JSON.stringify(profileText)}`);
  }
  let text: string | undefined;
  let field: string;
  if (input.flag !== undefined) {
    field = "--failpoints";
    text = input.flag === "on" || input.flag === "1" ? "none" : input.flag;
  } else {
    field = `$${failpointsEnvVar}`;
    const v = input.env[failpointsEnvVar];
    if (v === undefined || v === "" || v === "0" || v === "off") return undefined;
    text = v === "1" || v === "on" ? "none" : v;
  }
  if (profileText === "production") {
    throw new InvalidArgumentError(field, `failpoints are test-only and refused in the production profile (${profileField}=production)`);
  }
  try {
    return parseFailpointSpec(text);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new InvalidArgumentError(field, e.field === "failpoints" ? e.reason : `${e.field}: ${e.reason}`);
    throw e;
  }
}

/** What a Failpoints object needs: randomness for the draws, a clock for delays, and who it is. */
export interface FailpointsOptions {
  readonly rng: Rng;
  readonly clock: Clock;
  /** This daemon's own listen address, stamped on its outgoing calls (`shardkv-from`). */
  readonly self: string;
  readonly spec?: FailpointSpec;
}

/** How often each failpoint fired (for tests: proof that the faults happened). */
export interface FailpointCounters {
  droppedRequests: number;
  droppedReplies: number;
  droppedRaft: number;
  delayed: number;
  cut: number;
}

/**
 * The failpoints of one daemon, switchable at run time (`set`). Every draw uses the injected
 * Rng and draws nothing when its failpoint is off, so a seeded Rng gives the same decisions.
 */
export class Failpoints {
  readonly self: string;
  readonly clock: Clock;
  private readonly rng: Rng;
  private current: FailpointSpec;
  private cut: ReadonlySet<string>;
  /** Since the daemon started (never reset by `set`). */
  readonly counters: FailpointCounters = { droppedRequests: 0, droppedReplies: 0, droppedRaft: 0, delayed: 0, cut: 0 };

  constructor(opts: FailpointsOptions) {
    this.rng = opts.rng;
    this.clock = opts.clock;
    this.self = opts.self;
    this.current = validateFailpointSpec(opts.spec ?? noFailpoints);
    this.cut = new Set(this.current.cutPeers);
  }

  /** Replaces the whole spec (validated; throws InvalidArgumentError and keeps the old one). */
  set(spec: FailpointSpec): void {
    this.current = validateFailpointSpec(spec);
    this.cut = new Set(this.current.cutPeers);
  }

  get spec(): FailpointSpec {
    return this.current;
  }

  /** Whether to drop this incoming request (before it executes). */
  dropRequest(): boolean {
    return this.count("droppedRequests", this.draw(this.current.dropRequestRate));
  }

  /** Whether to drop this reply (after the request executed). */
  dropReply(): boolean {
    return this.count("droppedReplies", this.draw(this.current.dropReplyRate));
  }

  /** Whether to drop this Raft message (sent or received). */
  dropRaft(): boolean {
    return this.count("droppedRaft", this.draw(this.current.dropRaftRate));
  }

  /** Milliseconds to delay this message: uniform integer in [0, delayMsMax]; 0 when off. */
  delayMs(): number {
    const max = this.current.delayMsMax;
    if (max === 0) return 0;
    const ms = this.rng.int(max + 1);
    if (ms > 0) this.counters.delayed++;
    return ms;
  }

  /** Whether this daemon is cut off from the peer at `address` (undefined: unknown sender, never cut). */
  isCut(address: string | undefined): boolean {
    return this.count("cut", address !== undefined && this.cut.has(address));
  }

  /** Runs `fn` after delayMs() (synchronously when it is 0). Returns a cancel. */
  delayed(fn: () => void): Cancel {
    const ms = this.delayMs();
    if (ms === 0) {
      fn();
      return () => {};
    }
    return this.clock.after(ms, fn);
  }

  private count(what: keyof FailpointCounters, hit: boolean): boolean {
    if (hit) this.counters[what]++;
    return hit;
  }

  private draw(rate: number): boolean {
    if (rate <= 0) return false;
    if (rate >= 1) return true;
    return this.rng.float() < rate;
  }
}

/** Usage lines of the daemons' --failpoints and --profile flags (read by failpointsSetting), aligned with their usage texts. */
export const failpointFlagsUsage = `  --failpoints SPEC   test only: serve the Admin service and enable failpoints (docs/failpoints.md);
                      SPEC is "on" or an initial spec like drop-request=0.1,delay=27
                      (or $${failpointsEnvVar}); refused in the production profile
  --profile P         ${profiles.join(" or ")} (default development; or $${profileEnvVar})`;

/**
 * Runs one request received on a multiplexing stream and hands its outcome to `done`, with
 * the unary rules applied when `fp` is set: drop-request never runs it and never answers
 * (the client times it out), delay runs it later, drop-reply runs it and loses the answer.
 */
export function streamedRequest<T>(fp: Failpoints | undefined, exec: () => Promise<T>, done: (r: PromiseSettledResult<T>) => void): void {
  const run = (): void => {
    exec().then(
      (value) => {
        if (!fp?.dropReply()) done({ status: "fulfilled", value });
      },
      (reason: unknown) => {
        if (!fp?.dropReply()) done({ status: "rejected", reason });
      },
    );
  };
  if (fp === undefined) return run();
  if (fp.dropRequest()) return;
  fp.delayed(run);
}
