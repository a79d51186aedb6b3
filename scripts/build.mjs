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
import { buildPacks } from './packs.mjs';
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

// The qemu driver's share agent (a detached node process per machine with shared folders): dist/agents/,
// an ES module of its own.
await build({
  absWorkingDir: root,
  entryPoints: [{ in: 'drivers/qemu/share-agent.ts', out: 'agents/qemu-share' }],
  outbase: '.',
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  external: ['typescript', 'ssh2', 'cpu-features'],
  // A CommonJS dependency's require() calls need a require of the module's own.
  banner: {
    js: "import { createRequire as __moorCreateRequire } from 'node:module'; const require = __moorCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

// The CLI (src/main.ts: oclif's runner and every command; src/help.ts: moor's help) and the fast path
// (src/fast.ts: env, url, inspect, ls, active and create -d none without oclif) as CommonJS packs, loaded by
// dist/cli-loader.cjs and dist/fast-loader.cjs through dist/pack-loader.cjs with V8's code caches: no ES
// module loader at start (scripts/packs.mjs). What a command imports on demand (a driver, create,
// certificates...) is in packs of its own, read only then. The import.meta.url of the code is its pack's
// (provision/render.ts and the registry find the package root from it).
const importMetaUrl = { 'import.meta.url': '__moorImportMetaUrl' };
const cliPacks = await buildPacks(root, {
  name: 'cli',
  entryPoints: { cli: 'src/main.ts', 'cli-help': 'src/help.ts' },
  options: {
    ...commonJsBundle,
    define: importMetaUrl,
    // oclif only requires typescript in development mode; ssh2 has optional native addons: load both
    // from node_modules at run time (ssh2 only by the commands that use SSH).
    external: ['typescript', 'ssh2', 'cpu-features'],
    plugins: [oclifFromLoaderPlugin()],
  },
});
// dist/cli.cjs: the entry and what it imports statically (every command's class, oclif's runner).
const cliCore = cliPacks.staticClosure('cli');
cliPacks.pack(cliCore);
const fastPacks = await buildPacks(root, {
  name: 'fast',
  entryPoints: { fast: 'src/fast.ts' },
  options: {
    ...commonJsBundle,
    // No __name() calls: they give functions that esbuild renamed (flag3) their own names back, for stack
    // traces, which the fast path never prints (it leaves --debug, the one way to see a stack, to the full
    // CLI); and their allocations made ls and env on Node 22 and 24 need a garbage collection.
    keepNames: false,
    define: importMetaUrl,
    external: ['typescript', 'ssh2', 'cpu-features', '@aws-sdk/*', '@smithy/*', 'handlebars', '@oclif/*'],
    plugins: [fsPromisesLazyPlugin()],
  },
});
// Every chunk in a pack of its own until a run has listed the everyday commands' (below).
fastPacks.pack();
for (const loader of ['pack-loader.cjs', 'cli-loader.cjs', 'fast-loader.cjs']) {
  cpSync(join(root, 'scripts', loader), join(root, 'dist', loader));
}

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

/** `@oclif/core` in the CLI's packs is the CommonJS build above, through its loader (dist/oclif-loader.cjs). */
function oclifFromLoaderPlugin() {
  return {
    name: 'moor-oclif-from-loader',
    setup(build) {
      build.onResolve({ filter: /^@oclif\/core$/ }, () => ({ path: 'oclif-core', namespace: 'moor-oclif' }));
      // Required at run time from dist/ (the packs' require resolves from there).
      build.onResolve({ filter: /^\.\/oclif-loader\.cjs$/ }, (args) => ({ path: args.path, external: true }));
      build.onLoad({ filter: /.*/, namespace: 'moor-oclif' }, () => ({
        contents: "module.exports = require('./oclif-loader.cjs');",
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
// The CLI's packs got their code caches from the runs above (each saves the caches a pack it read lacks). The
// fast path's packs and code caches, made after its commands ran against a store with one machine (a none
// machine at a refused loopback port, made by the full CLI): the chunks the everyday commands ran go into
// dist/fast.cjs, and each pack's cache holds what those commands and a create compile.
const warmStore = mkdtempSync(join(tmpdir(), 'moor-build-'));
try {
  execFileSync(
    process.execPath,
    [join(root, 'bin/run.cjs'), 'create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', 'web'],
    { env: { ...process.env, MOOR_STORAGE_PATH: warmStore, MOOR_NO_FAST_PATH: '1' }, stdio: 'ignore' },
  );
  // The commands run are the loader's own list (WARM_UP in scripts/fast-loader.cjs, and a create for the caches).
  const loader = join(root, 'dist/fast-loader.cjs');
  const core = JSON.parse(execFileSync(process.execPath, [loader, '--list-chunks', warmStore], { encoding: 'utf8' }));
  fastPacks.pack(core);
  execFileSync(process.execPath, [loader, '--make-cache', warmStore], { stdio: 'inherit' });
  console.error(
    `build: the fast path: ${core.length} of ${fastPacks.chunks.length} chunks in dist/fast.cjs; ` +
      `the CLI: ${cliCore.length + 1} of ${cliPacks.chunks.length} in dist/cli.cjs`,
  );
} finally {
  rmSync(warmStore, { recursive: true, force: true });
}
console.error(`build: dist/ and oclif.manifest.json (${Object.keys(manifest.commands).length} commands)`);
