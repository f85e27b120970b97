/**
 * The simulator's one seeded runner and its event loop, shared by every mode (run.ts: a Raft
 * group; controller-run.ts: the controller group; shard-run.ts: the whole cluster). A mode is
 * a `SimWorld`: what it builds, starts, stops for the liveness phase, calls settled, and
 * checks; this file runs it (TigerBeetle VOPR style):
 *
 * - the safety phase runs events until `safetyMs` of virtual time, with the world's faults;
 * - the liveness phase asks the world to stop its faults and load, heal and restart, then
 *   runs events until the world is settled, within the bound it gives;
 * - the checkers run throughout (cheap ones every few drains, full ones every 128 of those),
 *   and a message storm, a livelock at one virtual time or too many events fail the run.
 *
 * The loop pops the next virtual timer, runs it (timers due at the same instant run together,
 * up to `sameTimeBatch`), then lets every promise chain it started run to completion with one
 * macrotask turn (all simulated I/O is on the virtual clock, so those chains end) before the
 * next event. Every event and hook appends a line to the trace, kept as a running sha256.
 * Same seed, same code: same trace, byte for byte.
 */
import { createHash } from "node:crypto";
import { nextTurn } from "../../common/real-env";
import { type BuggifyStats, SimBuggify } from "./buggify";
import { SimClock } from "./clock";
import { type SimMode, replayCommand } from "./seeds";

/** The options every mode's run takes. */
export interface SimRunOptions {
  /** Virtual milliseconds of the safety phase (default: the mode's; the CLI and the tests share it, so seeds replay). */
  readonly safetyMs?: number;
  /** Virtual milliseconds the liveness phase may take before it is a failure (default: the mode's). */
  readonly livenessMs?: number;
  /** Receives every trace line (the hash is computed either way). */
  readonly trace?: (line: string) => void;
  /** BUGGIFY fault points in the production code (test/sim/buggify.ts). Default on. */
  readonly buggify?: boolean;
  /** A course the mode makes the run take (`--scenario`; the whole-cluster mode's are shard-run.ts's shardScenarios). */
  readonly scenario?: string;
  /** Run the cheap whole-world checks every this many drains (the full ones every 128 times that). */
  readonly checkEvery?: number;
  /** Events allowed before the run is declared stuck. */
  readonly maxEvents?: number;
  /** More messages in flight at once on one Raft network than this is a failure (a message storm; runs peak near 200). */
  readonly stormMessages?: number;
  /** Timers due at the same virtual time run together before one drain, up to this many. */
  readonly sameTimeBatch?: number;
  /**
   * Stops the run between two events once aborted (a test passes its context's signal, which
   * vitest aborts when the test times out): the run then throws SimAbortedError, naming the
   * seed and how to replay it, instead of running on behind the next test.
   */
  readonly signal?: AbortSignal;
}

/**
 * A run stopped by its `signal` (its test timed out or was cancelled) before it ended. The
 * message names the seed, the virtual time reached and the command that replays it.
 */
export class SimAbortedError extends Error {
  constructor(readonly seed: number, readonly mode: SimMode, readonly virtualMs: number, replay: string) {
    super(`sim: ${mode} seed ${seed} stopped at ${virtualMs} ms of virtual time, unfinished: its test timed out or was cancelled; replay it with ${replay}`);
    this.name = "SimAbortedError";
  }
}

/** A mode's defaults for the options (each mode keeps its own, so its seeds replay). */
export interface SimDefaults {
  /** The mode these are the defaults of (for the replay command of an aborted run). */
  readonly mode: SimMode;
  readonly safetyMs: number;
  readonly livenessMs: number;
  readonly checkEvery: number;
  readonly maxEvents: number;
}

/** The loop's own counters, for the mode's stats. */
export interface LoopStats {
  readonly events: number;
  /** Macrotask turns that drained the promise chains (same-time events share one). */
  readonly drains: number;
  readonly virtualMs: number;
  /** Virtual ms the liveness phase took to settle (-1: it did not). */
  readonly livenessSettledMs: number;
}

/** One run as a world sees it: the clock, the trace, and the run's failure. */
export interface SimRun {
  readonly seed: number;
  readonly clock: SimClock;
  /** Appends one line (prefixed with the virtual time) to the trace. */
  readonly trace: (line: string) => void;
  /** The liveness phase's bound (virtual ms), as the options give it. */
  readonly livenessMs: number;
  /** Records `reason` as the run's failure, unless it already failed. */
  fail(reason: string): void;
  /** The run's failure so far. */
  readonly failure: string | undefined;
}

/** What the loop checks on each Raft group of a world (a SimCluster). */
export interface CheckedGroup {
  /** Messages in flight on the group's network (more than the storm bound fails the run). */
  readonly net: { readonly inFlight: number };
  /** Cheap checks over the live nodes (every few drains). Throws on a violation. */
  checkLive(): void;
  /** Pairwise log matching over the durable logs (every 128 cheap checks). Throws on a violation. */
  checkLogs(): void;
}

/** What a mode defines; the runner calls these in this order. */
export interface SimWorld<S> {
  /** The trace's first line after the world was built (the seed and its parameters). */
  readonly header: string;
  /** The world's Raft groups, checked by the loop. */
  readonly groups: readonly CheckedGroup[];
  /** A failure a checker, a node or a client already recorded (the first one), if any. */
  failure(): string | undefined;
  /** Full checks of the mode's own, after the groups' log matching. Throws on a violation. */
  checkFull?(): void;
  /** Starts the nodes, the load and the faults of the safety phase. */
  start(): void;
  /**
   * The liveness phase begins: stop faults and load, heal, restart, start the probe. Returns
   * the virtual ms the phase may take before it fails.
   */
  beginLiveness(): number;
  /** Whether the liveness phase's goal is reached. */
  settled(): boolean;
  /** The failure when the world did not settle within `boundMs`. */
  unsettled(boundMs: number): string;
  /** Checks once settled (final states, histories); calls `run.fail` or throws. */
  finalChecks(): void;
  /** The end of the run, settled or not (stop what still runs, trace summaries). */
  end?(): void;
  /** The run's stats (taken before BUGGIFY's last drain). */
  stats(loop: LoopStats): S;
}

/** What a mode's run returns. */
export interface SimResult<S, P> {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure?: string;
  /** sha256 of the trace. */
  readonly traceHash: string;
  readonly stats: S;
  readonly params: P;
  /** Which BUGGIFY points the run enabled and how often each fired. */
  readonly buggify: BuggifyStats;
}

/** What the runner returns: the mode's result but its parameters, and the world it ran. */
export interface WorldResult<W, S> extends Omit<SimResult<S, unknown>, "params"> {
  readonly world: W;
}

/** Lines are hashed in 64 KiB pieces (one update per line costs more than the rest of tracing). */
const hashPieceChars = 65536;
/** Events at one virtual time without time moving: a livelock. */
const livelockEvents = 100_000;
/** Default message storm bound (runs peak near 200). */
const defaultStormMessages = 2000;
/** Default number of same-time timers run before one drain. */
const defaultSameTimeBatch = 16;
/** The full checks run every this many cheap ones. */
const fullCheckRatio = 128;

/** Runs every promise chain the last event started (all of them end: I/O is virtual). */
const drain = (): Promise<void> => new Promise((r) => nextTurn(r));

/** The options the CLI takes too; a run given others cannot be replayed by the command alone. */
const cliOptions = new Set(["safetyMs", "buggify", "scenario", "trace", "signal"]);

/** The command-line flags that give a replay the options `opts` of a run (for replayCommand). */
export function simFlags(opts: Pick<SimRunOptions, "safetyMs" | "buggify" | "scenario">): string[] {
  return [
    ...(opts.safetyMs !== undefined ? [`--safety-ms ${opts.safetyMs}`] : []),
    ...(opts.buggify === false ? ["--no-buggify"] : []),
    ...(opts.scenario !== undefined ? [`--scenario ${opts.scenario}`] : []),
  ];
}

/** The error for seed `seed` stopped at `virtualMs` by `opts.signal`, with its replay command. */
function aborted(seed: number, mode: SimMode, virtualMs: number, opts: SimRunOptions): SimAbortedError {
  const flags = simFlags(opts);
  const extra = Object.keys(opts).filter((k) => !cliOptions.has(k) && (opts as Record<string, unknown>)[k] !== undefined);
  const replay = `${replayCommand(seed, mode, flags)}${extra.length > 0 ? ` (with the test's own ${extra.join(", ")})` : ""}`;
  return new SimAbortedError(seed, mode, virtualMs, replay);
}

/**
 * Runs seed `seed` of the world `make` builds: trace and BUGGIFY set up, the world built and
 * started, the safety phase, the liveness phase, the final checks.
 */
export async function runWorld<W extends SimWorld<unknown>>(
  seed: number, opts: SimRunOptions, defaults: SimDefaults, make: (run: SimRun) => W,
): Promise<WorldResult<W, ReturnType<W["stats"]>>> {
  const safetyMs = opts.safetyMs ?? defaults.safetyMs;
  const checkEvery = opts.checkEvery ?? defaults.checkEvery;
  const fullEvery = checkEvery * fullCheckRatio;
  const maxEvents = opts.maxEvents ?? defaults.maxEvents;
  const stormMessages = opts.stormMessages ?? defaultStormMessages;
  const sameTimeBatch = opts.sameTimeBatch ?? defaultSameTimeBatch;
  const signal = opts.signal;
  if (signal?.aborted) throw aborted(seed, defaults.mode, 0, opts);

  const clock = new SimClock();
  const hash = createHash("sha256");
  const sink = opts.trace;
  let pending = "";
  const trace = (line: string): void => {
    const l = `${clock.nowMs()} ${line}\n`;
    pending += l;
    if (pending.length >= hashPieceChars) {
      hash.update(pending);
      pending = "";
    }
    sink?.(l.slice(0, -1));
  };
  let failure: string | undefined;
  const run: SimRun = {
    seed, clock, trace, livenessMs: opts.livenessMs ?? defaults.livenessMs,
    fail: (reason) => {
      failure ??= reason;
    },
    get failure() {
      return failure;
    },
  };
  const bug = SimBuggify.start(seed, opts.buggify);
  if (bug) bug.trace = trace;
  const world = make(run);
  trace(world.header);

  let events = 0;
  let drains = 0;
  let lastTimeMs = -1;
  let eventsAtTime = 0;
  let stopped = false;
  /**
   * Runs events until `until()` holds (checked after each drain), time passes `deadlineMs`, a
   * failure, or `signal` aborts (then `stopped`).
   */
  const runUntil = async (until: () => boolean, deadlineMs: number): Promise<boolean> => {
    while (failure === undefined) {
      if (until()) return true;
      const next = clock.peekTime();
      if (next === undefined || next > deadlineMs) return false;
      try {
        clock.runNext();
        events++;
        // Timers due at the same virtual instant run before one shared drain: their promise
        // chains then interleave differently, but just as deterministically, and no chain
        // observes a later time than it would have. The drain (a macrotask turn) is the main
        // cost of the loop.
        const now = clock.nowMs();
        for (let k = 1; k < sameTimeBatch && clock.peekTime() === now; k++) {
          clock.runNext();
          events++;
        }
      } catch (e) {
        failure = world.failure() ?? `uncaught in event: ${(e as Error).stack ?? e}`;
        break;
      }
      await drain();
      // First thing after the turn: once the test timed out, the next test may already be
      // running its own seed (and BUGGIFY source); this run must touch nothing more.
      if (signal?.aborted) {
        stopped = true;
        return false;
      }
      drains++;
      if (drains % checkEvery === 0) {
        let inFlight = 0;
        for (const g of world.groups) inFlight = Math.max(inFlight, g.net.inFlight);
        if (inFlight > stormMessages) {
          failure ??= `message storm: ${inFlight} messages in flight at ${clock.nowMs()} ms (bound ${stormMessages}): some exchange multiplies messages`;
        }
        try {
          for (const g of world.groups) g.checkLive();
          if (drains % fullEvery === 0) {
            for (const g of world.groups) g.checkLogs();
            world.checkFull?.();
          }
        } catch (e) {
          failure = world.failure() ?? `check: ${(e as Error).message}`;
        }
      }
      failure ??= world.failure();
      if (clock.nowMs() !== lastTimeMs) {
        lastTimeMs = clock.nowMs();
        eventsAtTime = 0;
      } else if (++eventsAtTime > livelockEvents) {
        failure ??= `stuck: ${livelockEvents} events at virtual time ${lastTimeMs} ms without time moving (livelock)`;
      }
      if (events >= maxEvents) failure ??= `stuck: ${events} events by virtual time ${clock.nowMs()} ms`;
    }
    return false;
  };

  world.start();
  // ---------------------------------------------------------------- safety phase
  await runUntil(() => false, safetyMs);

  // ---------------------------------------------------------------- liveness phase
  let livenessSettledMs = -1;
  if (failure === undefined && !stopped) {
    const start = clock.nowMs();
    const boundMs = world.beginLiveness();
    const ok = await runUntil(() => world.settled(), start + boundMs);
    if (failure === undefined && !ok && !stopped) failure = world.unsettled(boundMs);
    if (failure === undefined && !stopped) {
      livenessSettledMs = clock.nowMs() - start;
      trace(`liveness settled in ${livenessSettledMs} ms`);
      try {
        world.finalChecks();
      } catch (e) {
        failure ??= world.failure() ?? (e as Error).message;
      }
      failure ??= world.failure();
    }
  }
  if (stopped) {
    // Only this run's own BUGGIFY source is uninstalled (finish checks), never the next run's.
    await SimBuggify.finish(bug);
    const e = aborted(seed, defaults.mode, clock.nowMs(), opts);
    // The test's own report says only that it timed out: say here which seed it was running.
    process.stderr.write(`${e.message}\n`);
    throw e;
  }
  world.end?.();
  trace(failure === undefined ? "ok" : `FAIL ${failure.split("\n")[0]}`);
  hash.update(pending);
  const stats = world.stats({ events, drains, virtualMs: clock.nowMs(), livenessSettledMs }) as ReturnType<W["stats"]>;
  const buggify = await SimBuggify.finish(bug);
  return { seed, world, ok: failure === undefined, failure, traceHash: hash.digest("hex"), stats, buggify };
}
