/**
 * The latency-over-time plot of a nemesis report (`<out>/latency.png`): each operation a point
 * (time since the workload started, latency), the fault windows shaded.
 *
 * PLACEHOLDER: this file keeps the interface of the real plot, which another branch provides;
 * until it is merged, renderLatencyPlot returns a valid 1x1 PNG.
 */

export interface LatencyPoint { readonly tMs: number; readonly latencyMs: number; readonly op: string; readonly outcome: "ok" | "fail" | "unknown" }
export interface FaultWindow { readonly startMs: number; readonly endMs: number; readonly kind: string; readonly label: string }
export interface LatencyPlotInput { readonly title: string; readonly durationMs: number; readonly points: readonly LatencyPoint[]; readonly windows: readonly FaultWindow[] }

/** A 1x1 grey PNG. */
const onePixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==";

export function renderLatencyPlot(input: LatencyPlotInput): Promise<Buffer> {
  void input;
  return Promise.resolve(Buffer.from(onePixel, "base64"));
}
