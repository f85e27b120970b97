/**
 * Reading the daemons' JSON log lines (common/daemon-log.ts) as people do: `shardkv-local`
 * shows log tails this way, and the daemons' terminal form names the replica the same way.
 */

/** The node name of a replica, as shardkv-local names it: `c<id>` for a controller (gid 0), `g<gid>n<id>` otherwise. */
export function replicaNameOf(gid: unknown, node: unknown): string {
  return gid === 0 ? `c${String(node)}` : `g${String(gid)}n${String(node)}`;
}

/**
 * One log line for people: a JSON line of a daemon becomes
 * `<time> <LEVEL> <replica> t<term> <msg> key=value ...` (the fields other than level, time,
 * gid, node, term and msg follow the message); any other line (a plain fatal or usage line,
 * an older daemon's text line) is returned as it is.
 */
export function readableLogLine(line: string): string {
  if (!line.startsWith("{")) return line;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof parsed !== "object" || parsed === null || typeof (parsed as { msg?: unknown }).msg !== "string") return line;
  const { level, time, gid, node, term, msg, ...rest } = parsed as Record<string, unknown>;
  const parts = [String(time), String(level).toUpperCase()];
  if (node !== undefined) parts.push(replicaNameOf(gid, node));
  if (term !== undefined) parts.push(`t${String(term)}`);
  parts.push(msg as string);
  for (const [k, v] of Object.entries(rest)) parts.push(`${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return parts.join(" ");
}

/** A log file's text with every line made readable (readableLogLine). */
export function readableLog(text: string): string {
  return text.split("\n").map(readableLogLine).join("\n");
}
