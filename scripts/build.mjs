#!/usr/bin/env node
// Build: bundle the CLI with esbuild (one ESM file per entry, heavy modules split into chunks that are
// loaded only when a command imports them), then write oclif.manifest.json so that startup reads the
// command list from one file. Type-checking is `npm run typecheck` (tsc --noEmit).
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { lazyRequirePlugin } from './lazy-require-plugin.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
rmSync(join(root, 'oclif.manifest.json'), { force: true });

await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts', 'src/help.ts'],
  outbase: '.',
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  chunkNames: 'chunks/[name]-[hash]',
  // oclif only requires typescript in development mode; ssh2 has optional native addons: load both
  // from node_modules at run time (ssh2 only by the commands that use SSH).
  external: ['typescript', 'ssh2', 'cpu-features'],
  // oclif is CommonJS and calls require(): give the ESM bundle a require of its own.
  banner: {
    js: "import { createRequire as __moorCreateRequire } from 'node:module'; const require = __moorCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
  plugins: [
    lazyRequirePlugin({
      patches: [
        // oclif sorts the command list with String#localeCompare at every start, and the first
        // localeCompare builds an ICU collator: ~7 ms of each run. Command ids are lowercase ASCII, for
        // which a plain comparison gives the same order.
        {
          file: /[\\/]config[\\/]plugin\.js$/,
          find: '.sort((a, b) => a.id.localeCompare(b.id));',
          replace: '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));',
        },
      ],
    }),
    wslUtilsStubPlugin(),
  ],
});

function wslUtilsStubPlugin() {
  const stub = join(root, 'scripts/wsl-utils-stub.mjs');
  return {
    name: 'moor-wsl-utils-stub',
    setup(build) {
      // Only oclif's own import is replaced; the stub's deferred import reaches the real package.
      build.onResolve({ filter: /^wsl-utils$/ }, (args) => (args.importer === stub ? undefined : { path: stub }));
    },
  };
}

const { Plugin } = await import('@oclif/core');
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, isRoot: true });
await plugin.load();
const manifest = plugin.manifest;
if (Object.keys(manifest.commands).length === 0) {
  console.error('build: no commands found for the manifest');
  process.exit(1);
}
writeFileSync(join(root, 'oclif.manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.error(`build: dist/ and oclif.manifest.json (${Object.keys(manifest.commands).length} commands)`);
