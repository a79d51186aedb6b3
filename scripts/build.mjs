#!/usr/bin/env node
// Build: bundle the CLI with esbuild (one ESM file per entry, heavy modules split into chunks that are
// loaded only when a command imports them), then write oclif.manifest.json so that startup reads the
// command list from one file. Type-checking is `npm run typecheck` (tsc --noEmit).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildFastPacks } from './fast-packs.mjs';
import { lazyRequirePlugin } from './lazy-require-plugin.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
rmSync(join(root, 'oclif.manifest.json'), { force: true });

const lazyOclif = lazyRequirePlugin({
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
});

// The two CommonJS bundles (oclif, the fast path): one file each, minified, names kept for stack traces.
const commonJsBundle = {
  absWorkingDir: root,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  logLevel: 'warning',
};

// @oclif/core as one CommonJS file, loaded by dist/oclif-loader.cjs with V8's code cache (made below):
// compiling half a megabyte of oclif was ~10 ms of every start, reading the cache ~2 ms.
await build({
  ...commonJsBundle,
  stdin: { contents: "module.exports = require('@oclif/core');", resolveDir: root, loader: 'js' },
  outfile: 'dist/oclif.cjs',
  external: ['typescript'],
  plugins: [lazyOclif, wslUtilsStubPlugin()],
});
// Its import() calls become calls of the loader's own import(): code from V8's cache would otherwise need
// node:vm's experimental dynamic-import hook.
const oclifSource = readFileSync(join(root, 'dist/oclif.cjs'), 'utf8');
const imports = oclifSource.match(/\bimport\((?=[\w$(])/g) ?? [];
if (imports.length < 2) throw new Error(`build: expected oclif's dynamic import() calls, found ${imports.length}`);
writeFileSync(join(root, 'dist/oclif.cjs'), oclifSource.replace(/\bimport\((?=[\w$(])/g, '__moorImport('));
cpSync(join(root, 'scripts/oclif-loader.cjs'), join(root, 'dist/oclif-loader.cjs'));

await build({
  absWorkingDir: root,
  // The qemu driver's share agent (a detached node process per machine with shared folders): dist/agents/.
  entryPoints: ['src/main.ts', 'src/help.ts', { in: 'drivers/qemu/share-agent.ts', out: 'agents/qemu-share' }],
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
    js: [
      "import { createRequire as __moorCreateRequire } from 'node:module';",
      'const require = __moorCreateRequire(import.meta.url);',
      // Every output file is one folder below dist/ (dist/src, dist/chunks): oclif's loader, from any.
      "import { fileURLToPath as __moorFileURLToPath } from 'node:url';",
      "const __moorOclifLoader = __moorFileURLToPath(new URL('../oclif-loader.cjs', import.meta.url));",
    ].join(' '),
  },
  logLevel: 'warning',
  plugins: [oclifFromLoaderPlugin()],
});

// The fast path (src/fast.ts: env, url, inspect, ls, active and create -d none without oclif) as CommonJS
// packs loaded by dist/fast-loader.cjs with V8's code cache: no ES module loader at start. The everyday
// commands' code is one pack (dist/fast.cjs, made below once a run has listed it); what a command imports
// on demand (a driver, create, certificates...) is in packs of its own, read only then (scripts/fast-packs.mjs).
const fastPacks = await buildFastPacks(root, {
  ...commonJsBundle,
  // The one import.meta.url of the code (provision/render.ts finds the package root from it).
  define: { 'import.meta.url': '__moorImportMetaUrl' },
  external: ['typescript', 'ssh2', 'cpu-features', '@aws-sdk/*', '@smithy/*', 'handlebars', '@oclif/*'],
  plugins: [fsPromisesLazyPlugin()],
});
fastPacks.pack();
cpSync(join(root, 'scripts/fast-loader.cjs'), join(root, 'dist/fast-loader.cjs'));

// `moor/driver-api` (package.json exports) for npm driver packages: the driver API as one file of its own,
// outside the CLI's bundle so that it costs the CLI's start nothing, and its type declarations. At run time a
// package gets the running moor's API through its load(api); this file serves its types and its own tests.
await build({
  absWorkingDir: root,
  entryPoints: ['drivers/api.ts'],
  outfile: 'dist/driver-api.js',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ssh2', 'cpu-features', 'handlebars'],
  logLevel: 'warning',
});
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.api.json'], {
  cwd: root,
  stdio: 'inherit',
});

/** `@oclif/core` in the ESM bundle is the CommonJS build above, through its loader (see the banner). */
function oclifFromLoaderPlugin() {
  return {
    name: 'moor-oclif-from-loader',
    setup(build) {
      build.onResolve({ filter: /^@oclif\/core$/ }, () => ({ path: 'oclif-core', namespace: 'moor-oclif' }));
      build.onLoad({ filter: /.*/, namespace: 'moor-oclif' }, () => ({
        contents: 'module.exports = require(__moorOclifLoader);',
        loader: 'js',
      }));
    },
  };
}

/** node:fs/promises in the fast bundle: scripts/fs-promises-lazy.cjs (node:fs's callbacks; the module on demand). */
function fsPromisesLazyPlugin() {
  const shim = join(root, 'scripts/fs-promises-lazy.cjs');
  return {
    name: 'moor-fs-promises-lazy',
    setup(build) {
      build.onResolve({ filter: /^(node:)?fs\/promises$/ }, (args) =>
        args.importer === shim ? undefined : { path: shim },
      );
    },
  };
}

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
// The code cache, made once the CLI is built: oclif compiled and warmed up by everyday commands.
execFileSync(process.execPath, [join(root, 'dist/oclif-loader.cjs'), '--make-cache', 'ls -q', 'ls', 'version'], {
  stdio: 'inherit',
});
// The fast path's packs and code caches, made after its commands ran against a store with one machine (a none
// machine at a refused loopback port, made by the full CLI): the chunks the everyday commands ran go into
// dist/fast.cjs, and each pack's cache holds what those commands and a create compile.
const warmStore = mkdtempSync(join(tmpdir(), 'moor-build-'));
try {
  execFileSync(
    process.execPath,
    [join(root, 'bin/run.cjs'), 'create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', 'web'],
    { env: { ...process.env, MOOR_STORAGE_PATH: warmStore, MOOR_NO_FAST_PATH: '1' }, stdio: 'ignore' },
  );
  const loader = join(root, 'dist/fast-loader.cjs');
  const everyday = ['ls -q', 'ls', 'env web', 'inspect web', 'url web', 'active'];
  const core = JSON.parse(
    execFileSync(process.execPath, [loader, '--list-chunks', warmStore, ...everyday], { encoding: 'utf8' }),
  );
  fastPacks.pack(core);
  execFileSync(
    process.execPath,
    [loader, '--make-cache', warmStore, ...everyday, 'create -d none --url tcp://127.0.0.1:1 warm'],
    { stdio: 'inherit' },
  );
  console.error(`build: the fast path: ${core.length} of ${fastPacks.chunks.length} chunks in dist/fast.cjs`);
} finally {
  rmSync(warmStore, { recursive: true, force: true });
}
console.error(`build: dist/ and oclif.manifest.json (${Object.keys(manifest.commands).length} commands)`);
