/**
 * The daemons' observability endpoint (`--metrics-listen host:port`; docs/operations.md
 * "Metrics" and "Health and readiness"): a plain HTTP server (node:http) serving
 *
 *   GET /metrics   the daemon's prom-client Registry in the Prometheus text format
 *   GET /healthz   200 "ok" while the process serves and its storage is usable, else 503
 *   GET /readyz    200 "ok" while the replica is ready (HealthChecks.readinessProblem), else 503
 *
 * (HEAD too); 503 bodies are one line saying why. Any other path answers 404, any other
 * method 405. Until the daemon's server has started (`serve`), both probes answer 503
 * "starting". The registry carries the default labels `gid` and `node` and Node's default
 * process metrics with the `shardkv_` prefix.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Registry } from "prom-client";
import { InvalidArgumentError } from "./errors";

/** How often the event-loop lag histogram (nodejs_eventloop_lag_*) samples, in ms (prom-client: 10). */
export const eventLoopSampleMs = 200;

/** What /healthz and /readyz ask the daemon's server: undefined when fine, else one line why not. */
export interface HealthChecks {
  healthProblem(): string | undefined;
  readinessProblem(): string | undefined;
}

export interface MetricsServer {
  /** Where the daemon registers its metrics. */
  readonly registry: Registry;
  /** The bound port (the one asked for, or the one picked for port 0). */
  readonly port: number;
  /** From now on the probes ask `checks` (before: 503 "starting"). */
  serve(checks: HealthChecks): void;
  /** Stops listening and ends open connections. Idempotent. */
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  /** "host:port" to bind (port 0: a free one). */
  readonly listen: string;
  /** Default labels of every metric: `gid` (0 for the controllers) and `node` (the replica id). */
  readonly labels: { readonly gid: number; readonly node: number };
  /** The flag named in errors. Default "--metrics-listen". */
  readonly flag?: string;
}

/** The reason a bind failed, in user terms (the error names the flag and the address). */
function bindFailure(e: NodeJS.ErrnoException, host: string, port: number): string {
  switch (e.code) {
    case "EADDRINUSE": return `port ${port} on ${host} is already in use; choose another port`;
    case "EADDRNOTAVAIL": return `${host} is not an address of this machine`;
    case "EACCES": return `not allowed to listen on port ${port} (ports below 1024 need privileges)`;
    case "ENOTFOUND":
    case "EAI_AGAIN": return `cannot resolve host ${JSON.stringify(host)}`;
    default: return `cannot listen: ${e.message}`;
  }
}

/** Splits "host:port" ("[::1]:9100" too); throws InvalidArgumentError naming `flag`. */
function hostPort(flag: string, listen: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new InvalidArgumentError(flag, `want host:port, got ${JSON.stringify(listen)}`);
  const host = m[1]!.startsWith("[") && m[1]!.endsWith("]") ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port };
}

/**
 * Binds the endpoint on `listen` before anything else of the daemon starts (so a port in use
 * fails the start at once with one line: InvalidArgumentError naming the flag, exit status 2).
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const flag = o.flag ?? "--metrics-listen";
  const { host, port } = hostPort(flag, o.listen);
  const registry = new Registry();
  registry.setDefaultLabels({ gid: String(o.labels.gid), node: String(o.labels.node) });
  let checks: HealthChecks | undefined;
  const http: Server = createServer((req, res) => void answer(req, res));
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0]!;
    const reply = (code: number, body: string, type = "text/plain; charset=utf-8"): void => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (path !== "/metrics" && path !== "/healthz" && path !== "/readyz") {
      return reply(404, `not found: ${path} (this endpoint serves /metrics, /healthz and /readyz)\n`);
    }
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, `method ${req.method} not allowed: use GET\n`);
    if (path === "/metrics") {
      try {
        return reply(200, await registry.metrics(), registry.contentType);
      } catch (e) {
        return reply(500, `collecting metrics failed: ${(e as Error).message}\n`);
      }
    }
    let problem: string | undefined;
    try {
      problem = checks === undefined ? "starting" : path === "/healthz" ? checks.healthProblem() : checks.readinessProblem();
    } catch (e) {
      // A check that throws is a bug; the probe fails rather than the process.
      problem = `the check failed: ${(e as Error).message}`;
    }
    reply(problem === undefined ? 200 : 503, `${problem ?? "ok"}\n`);
  };
  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException): void => reject(new InvalidArgumentError(flag, `${o.listen}: ${bindFailure(e, host, port)}`));
    http.once("error", failed);
    http.listen({ host, port }, () => {
      http.off("error", failed);
      resolve();
    });
  });
  // The event-loop lag histogram samples with a timer: prom-client's default of every 10 ms
  // woke an idle daemon 100 times a second (most of an idle cluster's wakeups with metrics
  // on, scraped or not); every 200 ms still gives 75 samples per 15 s scrape.
  collectDefaultMetrics({ register: registry, prefix: "shardkv_", eventLoopMonitoringPrecision: eventLoopSampleMs });
  let closing: Promise<void> | undefined;
  return {
    registry,
    port: (http.address() as AddressInfo).port,
    serve(c) {
      checks = c;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      return closing;
    },
  };
}
