/**
 * The nemesis report's latency plot: renderLatencyPlot draws a run's operations (latency over
 * time, log scale, coloured by operation, failures and timeouts marked) and its throughput,
 * with the fault windows shaded and labelled, as a PNG. The picture is built as SVG
 * (deploy/nemesis/plot-svg.ts) and rasterized by resvg (@resvg/resvg-js, a prebuilt binary
 * from the npm registry) with Debian's DejaVu Sans (deploy/nemesis/plot-font.ts); no browser.
 * Called by the nemesis runner once per run.
 */
import { renderAsync } from "@resvg/resvg-js";
import { ensurePlotFont, plotFontFamily } from "./plot-font";
import { buildLatencySvg, type LatencyPlotInput } from "./plot-svg";

export type { FaultWindow, LatencyPlotInput, LatencyPoint } from "./plot-svg";

/**
 * The PNG bytes of `input`'s plot (1400x900 px, under 1 MB for 500,000 operations: the
 * scatter is binned per pixel cell). Odd input is drawn rather than refused (see
 * plot-svg.ts). Installs fonts-dejavu-core with apt-get when its font is missing; rejects
 * with one line when that fails.
 */
export async function renderLatencyPlot(input: LatencyPlotInput): Promise<Buffer> {
  const fontFile = ensurePlotFont();
  const svg = buildLatencySvg(input);
  const image = await renderAsync(svg, {
    font: { loadSystemFonts: false, fontFiles: [fontFile], defaultFontFamily: plotFontFamily },
    background: "#ffffff",
  });
  return image.asPng();
}
