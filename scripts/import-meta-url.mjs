// Injected into the CommonJS bundles of scripts/build.mjs, which stands `importMetaUrl` for
// `import.meta.url` (a CommonJS bundle has no import.meta): the bundle's own URL, so a module
// that finds files relative to itself (deploy/local/process.ts: the package root) finds them
// from dist/ as it does from the ES module builds.
export const importMetaUrl = require("node:url").pathToFileURL(__filename).href;
