/**
 * The nemesis report's latency plot: renderLatencyPlot draws a run's operations (latency over
 * time, log scale, coloured by operation, failures and timeouts marked) and its throughput,
 * with the fault windows shaded and labelled, as a PNG. The picture is built as SVG
 * (deploy/nemesis/plot-svg.ts) and rasterized by resvg (@resvg/resvg-js, a prebuilt binary
 * from the npm registry) with Debian's DejaVu Sans (deploy/nemesis/plot-raster.ts); no browser.
 * Called by the nemesis runner once per run.
 */
import { rasterizeSvg } from "./plot-raster";
import { buildLatencySvg, type LatencyPlotInput, pngBytesMax, scatterResolutions } from "./plot-svg";

export type { FaultWindow, LatencyPlotInput, LatencyPoint } from "./plot-svg";

/**
 * The PNG bytes of `input`'s plot (1400x900 px). The scatter is binned per pixel cell, so
 * 500,000 operations cost about as much as 50,000; a scatter so noisy that the PNG would
 * pass 1 MB is drawn again more coarsely (plot-svg.ts, scatterResolutions). Odd input is
 * drawn rather than refused (see plot-svg.ts). Installs fonts-dejavu-core with apt-get when
 * its font is missing; rejects with one line when that fails.
 */
export async function renderLatencyPlot(input: LatencyPlotInput): Promise<Buffer> {
  let png: Buffer = Buffer.alloc(0);
  for (const resolution of scatterResolutions) {
    png = await rasterizeSvg(buildLatencySvg(input, resolution));
    if (png.length <= pngBytesMax) break;
  }
  return png;
}
