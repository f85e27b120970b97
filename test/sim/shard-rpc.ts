/**
 * Simulated RPCs between the actors of a whole-cluster run (shard-run.ts): clients, the admin,
 * the migration drivers and the servers of every group and of the controller. Each endpoint is
 * an address ("g2n3", "c1", "client-4"); a request and its reply each take a seeded delay, may
 * be dropped or duplicated (a duplicated request runs twice on the server: duplicate detection
 * must absorb it), and are cut by RPC partitions (an address isolated from every other) and by
 * one-way cuts (`sever`: what one address sends another is lost; a scenario's, never healed
 * by `heal`).
 * A request to a paused process waits for it; to a dead one it is refused (Stopped); a reply
 * from an incarnation that died, or to a caller that died, never arrives. The caller's timeout
 * ends the wait (TimeoutError: the outcome is unknown). Streams (PullShard) send each chunk as
 * its own message, in order; a lost chunk breaks the stream.
 */
import { StoppedError, TimeoutError } from "../../common/errors";
import type { NetworkFaults } from "./network";
import type { SimRng } from "./rng";
import type { Trace } from "./cluster";
import type { SimClock } from "./clock";

/** The server side of an address, as of now. */
export interface RpcEndpoint<S> {
  /** undefined: the process is down (the connection is refused). */
  readonly service: () => S | undefined;
  /** The incarnation: a reply is dropped when it changed since the request arrived. */
  readonly generation: () => number;
  readonly paused: () => boolean;
}

export interface CallOptions {
  readonly timeoutMs: number;
  /** Whether the caller (a process) is still alive to receive a reply. */
  readonly callerAlive?: () => boolean;
  /** The error of a call that got no reply in time (default: TimeoutError of `timeoutMs`). */
  readonly timeoutError?: () => Error;
  /** The error of a call to a process that is down (default: StoppedError "connection refused"). */
  readonly refusedError?: () => Error;
}

export class SimRpcNet {
  faults: NetworkFaults;
  private readonly endpoints = new Map<string, RpcEndpoint<unknown>>();
  /** Addresses cut off from every other address. */
  private readonly isolated = new Set<string>();
  /** One-way cuts, "from>to": messages from `from` to `to` are lost (the other way they pass). */
  private readonly severed = new Set<string>();
  readonly stats = { calls: 0, dropped: 0, duplicated: 0, cut: 0, timeouts: 0, refused: 0, streams: 0 };

  constructor(private readonly clock: SimClock, private readonly rng: SimRng, faults: NetworkFaults, private readonly trace: Trace) {
    this.faults = { ...faults };
  }

  register<S>(address: string, ep: RpcEndpoint<S>): void {
    this.endpoints.set(address, ep as RpcEndpoint<unknown>);
  }

  isolate(address: string): void {
    this.isolated.add(address);
    this.trace(`rpc isolate ${address}: ${this.describeCuts()}`);
  }

  heal(): void {
    this.isolated.clear();
    this.trace("rpc heal");
  }

  /**
   * Cuts every message from each of `from` to each of `to` (one way: replies to calls the
   * other way pass) until `mend`. `heal` leaves it: a scenario sets and lifts it, not the
   * nemesis.
   */
  sever(from: readonly string[], to: readonly string[]): void {
    for (const f of from) for (const t of to) this.severed.add(`${f}>${t}`);
    this.trace(`rpc sever ${from.join(",")} -> ${to.join(",")}`);
  }

  /** Lifts every one-way cut of `sever`. */
  mend(): void {
    this.severed.clear();
    this.trace("rpc mend");
  }

  describeCuts(): string {
    return [...this.isolated].sort().join(",");
  }

  /** The endpoint registered at `address`, if any. */
  endpoint<S>(address: string): RpcEndpoint<S> | undefined {
    return this.endpoints.get(address) as RpcEndpoint<S> | undefined;
  }

  /** Whether messages from `from` to `to` are cut (either is isolated, or that way is severed). */
  cut(from: string, to: string): boolean {
    return (this.isolated.size > 0 && (this.isolated.has(from) || this.isolated.has(to)))
      || (this.severed.size > 0 && this.severed.has(`${from}>${to}`));
  }

  /** A seeded one-way delay of one message (ms). */
  delay(): number {
    const f = this.faults;
    if (f.longDelayRate > 0 && this.rng.bool(f.longDelayRate)) return this.rng.range(f.delayMaxMs, Math.max(f.delayMaxMs, f.longDelayMs));
    return this.rng.range(f.delayMinMs, f.delayMaxMs);
  }

  /** Whether one message from `from` to `to` is lost (a cut or a seeded drop; counted in stats). */
  lost(from: string, to: string): boolean {
    if (this.cut(from, to)) {
      this.stats.cut++;
      return true;
    }
    if (this.faults.dropRate > 0 && this.rng.bool(this.faults.dropRate)) {
      this.stats.dropped++;
      return true;
    }
    return false;
  }

  /** Whether one request is duplicated (a seeded draw; counted in stats). */
  duplicate(): boolean {
    if (!(this.faults.dupRate > 0 && this.rng.bool(this.faults.dupRate))) return false;
    this.stats.duplicated++;
    return true;
  }

  /**
   * Runs `fn` on `to`'s service after the request's trip and resolves with its result after
   * the reply's; rejects with TimeoutError after `timeoutMs` if nothing came back.
   */
  call<S, T>(from: string, to: string, what: string, fn: (svc: S) => Promise<T>, opts: CallOptions): Promise<T> {
    this.stats.calls++;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const cancel = this.clock.after(opts.timeoutMs, () => {
        if (settled) return;
        settled = true;
        this.stats.timeouts++;
        reject(opts.timeoutError?.() ?? new TimeoutError(`${what} at ${to}`, opts.timeoutMs));
      });
      const reply = (ok: boolean, v: unknown, gen: number, ep: RpcEndpoint<unknown>): void => {
        if (ep.generation() !== gen) return; // the server died: its reply with it
        if (this.lost(to, from)) return;
        this.clock.after(this.delay(), () => {
          if (settled || (opts.callerAlive && !opts.callerAlive())) return;
          if (this.cut(to, from)) return;
          settled = true;
          cancel();
          if (ok) resolve(v as T);
          else reject(v);
        });
      };
      const arrive = (): void => {
        if (this.cut(from, to)) {
          this.stats.cut++;
          return;
        }
        const ep = this.endpoints.get(to);
        if (ep?.paused()) {
          this.clock.after(10, arrive); // held in the socket until the process resumes
          return;
        }
        const svc = ep?.service();
        if (!ep || svc === undefined) {
          this.stats.refused++;
          this.clock.after(this.delay(), () => {
            if (settled) return;
            settled = true;
            cancel();
            reject(opts.refusedError?.() ?? new StoppedError(`${to} (connection refused)`));
          });
          return;
        }
        const gen = ep.generation();
        let p: Promise<T>;
        try {
          p = fn(svc as S);
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then((v) => reply(true, v, gen, ep), (e) => reply(false, e, gen, ep));
      };
      const copies = this.duplicate() ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        if (this.lost(from, to)) continue;
        this.clock.after(this.delay(), arrive);
      }
    });
  }

  /**
   * A server stream: `open` runs on `to`'s service after the request's trip and yields items;
   * each item travels as its own message, in order. A lost item, a dead server or `cancel()`
   * ends the stream with an error; no item for `idleMs` is a TimeoutError.
   */
  stream<S, T>(from: string, to: string, what: string, open: (svc: S) => AsyncIterable<T>, opts: CallOptions & { idleMs: number }): { iterable: AsyncIterable<T>; cancel: () => void } {
    this.stats.streams++;
    type Item = { value: T } | { end: true } | { error: unknown };
    const queue: Item[] = [];
    let waiter: ((i: Item) => void) | undefined;
    let closed = false;
    let lastDeliverMs = 0;
    let idle: (() => void) | undefined;
    const push = (i: Item): void => {
      if (closed) return;
      if ("end" in i || "error" in i) closed = true;
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w(i);
      } else queue.push(i);
    };
    const armIdle = (): void => {
      idle?.();
      idle = this.clock.after(opts.idleMs, () => push({ error: new TimeoutError(`${what} stream from ${to}`, opts.idleMs) }));
    };
    armIdle();
    const send = (i: Item, gen: number, ep: RpcEndpoint<unknown>): boolean => {
      if (ep.generation() !== gen || this.lost(to, from)) {
        this.clock.after(this.delay(), () => push({ error: new StoppedError(`${what} stream from ${to} broken`) }));
        return false;
      }
      const at = Math.max(this.clock.nowMs() + this.delay(), lastDeliverMs);
      lastDeliverMs = at;
      this.clock.after(at - this.clock.nowMs(), () => {
        if (opts.callerAlive && !opts.callerAlive()) return;
        armIdle();
        push(i);
      });
      return true;
    };
    const arrive = (): void => {
      if (closed) return;
      if (this.cut(from, to)) return;
      const ep = this.endpoints.get(to);
      if (ep?.paused()) {
        this.clock.after(10, arrive);
        return;
      }
      const svc = ep?.service();
      if (!ep || svc === undefined) {
        this.clock.after(this.delay(), () => push({ error: new StoppedError(`${to} (connection refused)`) }));
        return;
      }
      const gen = ep.generation();
      void (async () => {
        try {
          for await (const v of open(svc as S)) {
            if (closed) return;
            if (!send({ value: v }, gen, ep)) return;
          }
          send({ end: true }, gen, ep);
        } catch (e) {
          send({ error: e }, gen, ep);
        }
      })();
    };
    if (!this.lost(from, to)) this.clock.after(this.delay(), arrive);
    const iterable: AsyncIterable<T> = {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<T>> => {
          const i = queue.shift() ?? await new Promise<Item>((r) => (waiter = r));
          if ("value" in i) return { value: i.value, done: false };
          idle?.();
          if ("end" in i) return { value: undefined, done: true };
          throw i.error;
        },
        return: async (): Promise<IteratorResult<T>> => {
          closed = true;
          idle?.();
          return { value: undefined, done: true };
        },
      }),
    };
    return {
      iterable,
      cancel: () => {
        idle?.();
        push({ error: new StoppedError(`${what} stream cancelled`) });
      },
    };
  }
}
