#!/usr/bin/env node
'use strict';
// moor's entry point (CommonJS: an everyday command then never starts the ES module loader). The everyday
// read-only commands and `create` try the fast path first (dist/fast.cjs through its code cache: no CLI
// framework); it answers only a command line it reads completely (create: with the none driver) and leaves
// everything else, the read-only commands' errors included, to the full CLI (dist/cli-loader.cjs: oclif and every command). MOOR_NO_FAST_PATH=1 skips the fast path. The process exits as soon as
// the command is done: a slow machine that `ls` gave up on (Timeout) must not keep it alive.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) {
  process.stderr.write(`moor needs Node.js 20.12 or newer; this is ${process.version}.\n`);
  process.exit(1);
}
// moor checks the Node version itself (above), so oclif need not load semver to do it again.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= 'true';
// The AWS SDK prints an eight-line NodeVersionSupportWarning on every amazonec2 command under Node 20;
// `moor version` and the README say it once instead.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const FAST = new Set(['env', 'url', 'inspect', 'ls', 'active', 'create']);
const argv = process.argv.slice(2);

async function main() {
  // The command first, or docker-machine's order (global flags, then the command).
  const fast = FAST.has(argv[0]) || (argv[0]?.startsWith('-') && argv.some((word) => FAST.has(word)));
  if (fast && !process.env.MOOR_NO_FAST_PATH) {
    const { runFast } = require('../dist/fast-loader.cjs');
    if (await runFast(argv)) return;
  }
  // Node 22+: the compiled code of the modules the full CLI requires from node_modules (ssh2, handlebars, the
  // AWS SDK...) is kept between runs, in the OS's temporary folder (moor's own packs have their V8 caches in
  // dist/). Not for the fast path, which requires nothing from node_modules: turning it on costs 0.5-1 ms.
  require('node:module').enableCompileCache?.();
  const { run, quietLogger } = require('../dist/cli-loader.cjs');
  const root = require('node:path').join(__dirname, '..');
  await run(argv, { loadOptions: process.env.DEBUG ? { root } : { root, logger: quietLogger() } });
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    // Only a bug of moor's own gets here (commands report their errors themselves).
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
