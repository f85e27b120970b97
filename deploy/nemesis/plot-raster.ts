/**
 * SVG to PNG for the nemesis plot: resvg (@resvg/resvg-js, a prebuilt binary from the npm
 * registry, run on libuv's thread pool) with one font, DejaVu Sans from Debian's
 * `fonts-dejavu-core` (on the machine image; installed with apt-get when missing, as the test
 * hosts install their tools). resvg is given this one file and no system fonts, so every
 * machine draws the same picture and rendering does not scan the font directories.
 */
import { existsSync } from "node:fs";
import { renderAsync } from "@resvg/resvg-js";
import { aptInstall } from "../hosts/net";

/** The font family the SVG names; the file below provides it. */
export const plotFontFamily = "DejaVu Sans";

/** The Debian package that ships plotFontFile. */
export const plotFontPackage = "fonts-dejavu-core";

/** Where fonts-dejavu-core puts DejaVu Sans (Debian 12 and 13). */
export const plotFontFile = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/**
 * The path of the plot's font file, installing fonts-dejavu-core first when it is missing;
 * throws one line saying what failed (without it resvg would draw no text at all).
 */
export function ensurePlotFont(): string {
  if (existsSync(plotFontFile)) return plotFontFile;
  if (!aptInstall([plotFontPackage]) || !existsSync(plotFontFile)) {
    throw new Error(`the plot's font ${plotFontFile} is missing and \`apt-get install ${plotFontPackage}\` failed; install it and try again`);
  }
  return plotFontFile;
}

/** The PNG of `svg` (its own width and height, white behind it); the font as ensurePlotFont. */
export async function rasterizeSvg(svg: string): Promise<Buffer> {
  const image = await renderAsync(svg, {
    font: { loadSystemFonts: false, fontFiles: [ensurePlotFont()], defaultFontFamily: plotFontFamily },
    background: "#ffffff",
  });
  return image.asPng();
}
