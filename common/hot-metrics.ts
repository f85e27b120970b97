/**
 * Prometheus metrics (prom-client) that cost next to nothing where they are recorded
 * (docs/operations.md "Service, shard and controller metrics").
 *
 * prom-client's own `counter.labels(...).inc()` and `histogram.labels(...).observe()` build a
 * string from the label values and validate them at every call. Here a label set is bound
 * once to a cell, a plain object the hot path updates in place (`cell.value += 1`,
 * `cell.observe(seconds)`: a field increment, a short bucket search); the registry reads the
 * cells only when it is scraped (each metric's `collect`). Gauges are read the same way: a
 * `Source` reports the current values at scrape time, so nothing is maintained between
 * scrapes.
 *
 * A `MetricSet` is what one server records into a registry. Several sets may record into the
 * same metric of one registry (two servers in one process): a metric is created once per
 * registry and name, its values are summed over the sets, and `close()` takes a set's values
 * out. Every metric is registered only on the registry it is given (never prom-client's
 * global one).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { assert } from "./assert";

export type Labels = Readonly<Record<string, string>>;
/** Reports one labelled value of a metric. */
export type Emit = (labels: Labels, value: number) => void;
/** Reports a metric's current values when the registry is scraped: `emit` once per label set. */
export type Source = (emit: Emit) => void;

/** A metric's name (`shardkv_<subsystem>_<name>_<unit>`), help text and label names. */
export interface MetricSpec {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
}

/**
 * Buckets (seconds) of every shardkv latency histogram: 100 µs to 10 s, about 2.5x apart (an
 * fsync of a fast SSD lands in the first buckets, a stalled disk or a lost peer in the last).
 */
export const latencyBucketsSeconds: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A histogram's spec with its bucket upper bounds (ascending, in the metric's unit). */
export interface HistogramSpec extends MetricSpec {
  readonly buckets: readonly number[];
}

/** One label set of a counter, incremented in place on the hot path. */
export class CounterCell {
  value = 0;
  constructor(readonly labels: Labels) {}
}

/** One label set of a histogram, observed in place on the hot path. */
export class HistogramCell {
  /** Observations per bucket, not cumulative: counts[i] for bounds[i-1] < v <= bounds[i]; the last above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly labels: Labels, private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

type Kind = "counter" | "gauge" | "histogram";
type HistogramValues = Awaited<ReturnType<Histogram<string>["get"]>>;
/** One line of a histogram's exposition, in prom-client's internal shape (labels, and the label set's shared labels). */
interface HistogramValue {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly sharedLabels: Labels;
  readonly value: number;
  readonly metricName: string;
}

/** A metric of one registry: its kind and the sources every MetricSet reports through. */
interface Entry {
  readonly kind: Kind;
  readonly spec: MetricSpec;
  readonly sources: Set<Source>;
  /** Histograms: the cells of every set. */
  readonly cells: Set<() => Iterable<HistogramCell>>;
}

const entries = new WeakMap<Registry, Map<string, Entry>>();

/** A histogram whose values are the cells' (read at scrape time) instead of prom-client's own. */
class CellHistogram extends Histogram<string> {
  constructor(registry: Registry, private readonly spec: HistogramSpec, private readonly cells: Set<() => Iterable<HistogramCell>>) {
    super({ name: spec.name, help: spec.help, labelNames: [...spec.labelNames], buckets: [...spec.buckets], registers: [registry] });
  }

  /** The values, as prom-client's histograms give them: labels with `le` first, then the cell's. */
  override async get(): Promise<HistogramValues> {
    const v = this.read();
    const values = v.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return { ...v, values } as unknown as HistogramValues;
  }

  /**
   * What the registry formats the text exposition from (prom-client prefers it to `get`): the
   * shape of prom-client's own histograms (`le` in `labels`, the cell's labels shared), so
   * the text is the same as theirs.
   */
  async getForPromString(): Promise<HistogramValues> {
    return this.read() as unknown as HistogramValues;
  }

  /** Cumulative buckets, +Inf, sum and count per label set, summed over the sets. */
  private read(): { name: string; help: string; type: "histogram"; aggregator: "sum"; values: HistogramValue[] } {
    const { name, buckets } = this.spec;
    // Summed over the sets by label set (two servers recording into one registry).
    const merged = new Map<string, { labels: Labels; counts: Float64Array; sum: number; count: number }>();
    for (const cellsOf of this.cells) {
      for (const c of cellsOf()) {
        const key = JSON.stringify(c.labels);
        const m = merged.get(key);
        if (m === undefined) {
          merged.set(key, { labels: c.labels, counts: Float64Array.from(c.counts), sum: c.sum, count: c.count });
          continue;
        }
        for (let i = 0; i < c.counts.length; i++) m.counts[i]! += c.counts[i]!;
        m.sum += c.sum;
        m.count += c.count;
      }
    }
    const values: HistogramValue[] = [];
    for (const m of merged.values()) {
      const bucket = `${name}_bucket`;
      let acc = 0;
      for (let i = 0; i < buckets.length; i++) {
        acc += m.counts[i]!;
        values.push({ labels: { le: buckets[i]! }, sharedLabels: m.labels, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: "+Inf" }, sharedLabels: m.labels, value: m.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: m.labels, value: m.sum, metricName: `${name}_sum` });
      values.push({ labels: {}, sharedLabels: m.labels, value: m.count, metricName: `${name}_count` });
    }
    return { name, help: this.spec.help, type: "histogram", values, aggregator: "sum" };
  }
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

/** The metric `spec` of `registry`, created (and registered) on first use. */
function entryOf(registry: Registry, kind: Kind, spec: MetricSpec): Entry {
  let byName = entries.get(registry);
  if (byName === undefined) entries.set(registry, (byName = new Map()));
  const found = byName.get(spec.name);
  if (found !== undefined) {
    assert(found.kind === kind && sameLabels(found.spec.labelNames, spec.labelNames),
      () => `metric ${spec.name} recorded as a ${kind} with labels ${spec.labelNames.join(",")}, created as a ${found.kind} with ${found.spec.labelNames.join(",")}`);
    return found;
  }
  const entry: Entry = { kind, spec, sources: new Set(), cells: new Set() };
  const config = { name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [registry] };
  // Values are republished whole at each scrape: reset, then the sum over the sources.
  const publish = (m: { reset(): void; inc(labels: Labels, value: number): void }): void => {
    m.reset();
    for (const source of entry.sources) source((labels, value) => m.inc(labels, value));
  };
  if (kind === "counter") new Counter({ ...config, collect() { publish(this); } });
  else if (kind === "gauge") new Gauge({ ...config, collect() { publish(this); } });
  else new CellHistogram(registry, spec as HistogramSpec, entry.cells);
  byName.set(spec.name, entry);
  return entry;
}

/**
 * What one server records into a registry: counter and histogram cells, bound to their labels
 * once, and gauges read at scrape time. `close()` takes all of it out of the registry's values.
 */
export class MetricSet {
  private readonly counters = new Map<string, CounterCell[]>();
  private readonly histograms = new Map<string, HistogramCell[]>();
  private readonly removals: (() => void)[] = [];

  constructor(private readonly registry: Registry) {}

  /** A new cell of counter `spec` with `labels` (create it once, then increment its value). */
  counter(spec: MetricSpec, labels: Labels): CounterCell {
    const cell = new CounterCell(labels);
    this.cellsOf(this.counters, spec.name, (mine) => {
      this.addSource(entryOf(this.registry, "counter", spec).sources, (emit) => {
        for (const c of mine) emit(c.labels, c.value);
      });
    }).push(cell);
    return cell;
  }

  /** A new cell of histogram `spec` with `labels` (create it once, then observe into it). */
  histogram(spec: HistogramSpec, labels: Labels): HistogramCell {
    const cell = new HistogramCell(labels, spec.buckets);
    this.cellsOf(this.histograms, spec.name, (mine) => {
      const cells = entryOf(this.registry, "histogram", spec).cells;
      const read = (): Iterable<HistogramCell> => mine;
      cells.add(read);
      this.removals.push(() => cells.delete(read));
    }).push(cell);
    return cell;
  }

  /** Gauge `spec`, whose values `source` reports at each scrape. */
  gauge(spec: MetricSpec, source: Source): void {
    this.addSource(entryOf(this.registry, "gauge", spec).sources, source);
  }

  /** Takes this set's values out of the registry (a stopped server). Idempotent. */
  close(): void {
    for (const remove of this.removals.splice(0)) remove();
  }

  /** This set's cells of metric `name` in `byName`; the first time, `register` makes the registry read them. */
  private cellsOf<C>(byName: Map<string, C[]>, name: string, register: (cells: readonly C[]) => void): C[] {
    let cells = byName.get(name);
    if (cells === undefined) {
      cells = [];
      byName.set(name, cells);
      register(cells);
    }
    return cells;
  }

  private addSource(sources: Set<Source>, source: Source): void {
    sources.add(source);
    this.removals.push(() => sources.delete(source));
  }
}
