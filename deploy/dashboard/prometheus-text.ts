/**
 * A reader of the Prometheus text exposition format (version 0.0.4, what prom-client serves on
 * a daemon's /metrics): `# HELP` and `# TYPE` lines, other comments, blank lines, and samples
 * `name{label="value",...} value [timestamp]`. Pure: the dashboard (deploy/dashboard/poller.ts)
 * hands it the text of one scrape and gets the samples back.
 *
 * Label values take the format's escapes (`\\`, `\"`, `\n`); values are Go floats, `+Inf`,
 * `-Inf` and `NaN` included. A line that is none of the above is an error naming its line
 * number and what was wrong: the dashboard then shows that node's metrics as unreadable rather
 * than charting half a scrape.
 */

/** One sample of a scrape. */
export interface Sample {
  /** Metric name as exposed: a histogram's series end in `_bucket`, `_sum`, `_count`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scrape that is not valid exposition text: one line saying where and why. */
export class ExpositionError extends Error {}

const namePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** A sample value: a float, +Inf, -Inf or NaN. */
function parseValue(s: string): number | undefined {
  if (s === "+Inf" || s === "Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/**
 * The labels of `line` from index `at` (just after `{`): the labels and the index after `}`.
 * Throws a message (without the line number) when malformed.
 */
function parseLabels(line: string, at: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at;
  for (;;) {
    while (line[i] === " ") i++;
    if (line[i] === "}") return { labels, end: i + 1 };
    const name = labelNamePattern.exec(line.slice(i))?.[0];
    if (name === undefined) throw new Error(`want a label name at column ${i + 1}`);
    i += name.length;
    if (line[i] !== "=" || line[i + 1] !== '"') throw new Error(`want ="..." after label ${name}`);
    i += 2;
    let value = "";
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new Error(`label ${name}: unterminated value`);
      if (c === '"') break;
      if (c === "\\") {
        const e = line[i + 1];
        if (e === "n") value += "\n";
        else if (e === "\\" || e === '"') value += e;
        else throw new Error(`label ${name}: unknown escape \\${e ?? ""}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (Object.hasOwn(labels, name)) throw new Error(`label ${name} given twice`);
    labels[name] = value;
    while (line[i] === " ") i++;
    if (line[i] === ",") i++;
    else if (line[i] !== "}") throw new Error(`want , or } after label ${name}`);
  }
}

/** Every sample of `text`, in order. Throws ExpositionError for a malformed line. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  const lines = text.split("\n");
  for (const [n, raw] of lines.entries()) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "" || line.startsWith("#")) continue;
    try {
      const name = namePattern.exec(line)?.[0];
      if (name === undefined) throw new Error("want a metric name");
      let i = name.length;
      let labels: Record<string, string> = {};
      if (line[i] === "{") ({ labels, end: i } = parseLabels(line, i + 1));
      const rest = line.slice(i).trim().split(/\s+/);
      if (rest.length < 1 || rest.length > 2 || rest[0] === "") throw new Error("want a value (and at most a timestamp) after the name and labels");
      const value = parseValue(rest[0]!);
      if (value === undefined) throw new Error(`value ${JSON.stringify(rest[0])} is not a number`);
      out.push({ name, labels, value });
    } catch (e) {
      const shown = line.length > 80 ? `${line.slice(0, 77)}...` : line;
      throw new ExpositionError(`line ${n + 1}: ${(e as Error).message}: ${JSON.stringify(shown)}`);
    }
  }
  return out;
}
