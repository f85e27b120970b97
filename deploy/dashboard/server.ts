/**
 * The dashboard's HTTP server (node:http, no framework): the page and its assets, read once
 * from deploy/dashboard/page/ in the package (nothing from a CDN), a JSON snapshot and a live
 * stream of snapshots as server-sent events.
 *
 *   GET /                 the page (index.html)
 *   GET /app.js, /app.css its script and style
 *   GET /api/snapshot     the latest DashboardSnapshot (deploy/dashboard/cluster-view.ts) as JSON
 *   GET /api/events       text/event-stream: the latest snapshot at once, then each new one
 *                         (one `data:` line of JSON per event; a comment every 15 s keeps
 *                         proxies from closing an idle stream)
 *
 * Anything else is 404 (405 for a method other than GET or HEAD), with one line saying what
 * was asked. Read-only and without authentication: it shows what the admin identity it
 * polls with may see, so it listens on loopback unless told otherwise.
 */
import { readFileSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Clock } from "../../common/env";
import { realClock } from "../../common/real-env";
import { repoRoot } from "../local/process";
import type { DashboardSnapshot } from "./cluster-view";
import type { DashboardPoller } from "./poller";

/** Where the page's files are: in the package, beside this module's sources. */
export const pageDir = join(repoRoot, "deploy", "dashboard", "page");

const assets: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/app.css": { file: "app.css", type: "text/css; charset=utf-8" },
};

/** Milliseconds between keep-alive comments on an idle event stream. */
const keepAliveMs = 15_000;

/** The running dashboard server. */
export interface DashboardServer {
  /** `http://host:port/`, the port the one bound (with --listen host:0: the one the kernel chose). */
  readonly url: string;
  close(): Promise<void>;
}

/** Reads the page's files (throws one line naming a missing one). */
function loadAssets(): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const { file } of Object.values(assets)) {
    if (out.has(file)) continue;
    try {
      out.set(file, readFileSync(join(pageDir, file)));
    } catch (e) {
      throw new Error(`cannot read the dashboard page ${join(pageDir, file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return out;
}

const securityHeaders = {
  "X-Content-Type-Options": "nosniff",
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
  "Referrer-Policy": "no-referrer",
};

/**
 * Starts serving `poller`'s snapshots on `listen` ("host:port"; port 0: any free one);
 * resolves once it listens. Fails with one line when the address cannot be bound.
 */
export async function startDashboardServer(poller: DashboardPoller, listen: string, clock: Clock = realClock): Promise<DashboardServer> {
  const files = loadAssets();
  const streams = new Set<ServerResponse>();
  const send = (res: ServerResponse, s: DashboardSnapshot): void => void res.write(`data: ${JSON.stringify(s)}\n\n`);
  const unsubscribe = poller.subscribe((s) => {
    for (const res of streams) send(res, s);
  });
  let cancelKeepAlive = (): void => undefined;
  const keepAlive = (): void => {
    cancelKeepAlive = clock.after(keepAliveMs, () => {
      for (const res of streams) res.write(": keep-alive\n\n");
      keepAlive();
    });
  };
  keepAlive();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0]!;
    const reply = (code: number, type: string, body: string | Buffer): void => {
      res.writeHead(code, { "Content-Type": type, "Cache-Control": "no-store", ...securityHeaders });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      reply(405, "text/plain; charset=utf-8", `method ${req.method} not allowed: the dashboard answers GET and HEAD\n`);
      return;
    }
    const asset = assets[path];
    if (asset) return reply(200, asset.type, files.get(asset.file)!);
    if (path === "/api/snapshot") {
      const s = poller.latest();
      if (!s) return reply(503, "text/plain; charset=utf-8", "no snapshot yet: the first poll has not finished\n");
      return reply(200, "application/json", JSON.stringify(s));
    }
    if (path === "/api/events") {
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive", ...securityHeaders });
      if (req.method === "HEAD") return void res.end();
      res.write("retry: 2000\n\n");
      streams.add(res);
      const s = poller.latest();
      if (s) send(res, s);
      req.on("close", () => streams.delete(res));
      return;
    }
    reply(404, "text/plain; charset=utf-8", `not found: ${JSON.stringify(path.slice(0, 200))} (the dashboard serves /, /api/snapshot and /api/events)\n`);
  };

  const server: Server = createServer(handle);
  const sep = listen.lastIndexOf(":");
  const host = listen.slice(0, sep).replace(/^\[(.*)\]$/, "$1");
  const port = Number(listen.slice(sep + 1));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      const why = e.code === "EADDRINUSE" ? "address in use (choose another with --listen host:port)" : e.code === "EADDRNOTAVAIL" ? "no such local address" : e.code ?? e.message;
      reject(new Error(`cannot listen on ${listen}: ${why}`));
    });
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${shownHost}:${bound.port}/`,
    close: () => {
      unsubscribe();
      cancelKeepAlive();
      for (const res of streams) res.end();
      streams.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
