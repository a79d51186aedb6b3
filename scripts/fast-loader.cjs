'use strict';
// The fast path (src/fast.ts: env, url, inspect, ls, active and create -d none without oclif) from its packs
// (scripts/packs.mjs, read by scripts/pack-loader.cjs with V8's code caches): dist/fast.cjs holds the chunks
// the everyday commands ran at build time, dist/fast-<chunk>.cjs each other chunk (a driver, create,
// certificates, provisioning...), read only when a command requires it.
const packs = require('./pack-loader.cjs');

const buildMode = require.main === module ? process.argv[2] : undefined;
if (buildMode === '--make-cache') packs.ignoreCaches();

const { runFast, ...rest } = packs.load('fast');
module.exports = { ...rest };

// npm driver packages are ES modules: they are imported by this file's own import() (a module loaded by
// require), since the packs' import() calls became require() and code run from a V8 cache has no import().
// Once a command answered, the packs it read without a cache (another Node than the build's) get one.
module.exports.runFast = async (argv, env, output) => {
  const answered = await runFast(argv, env, output, (url) => import(url));
  if (answered && !buildMode) packs.saveMissingCaches();
  return answered;
};

if (buildMode === '--make-cache' || buildMode === '--list-chunks') {
  // Build steps (node dist/fast-loader.cjs --make-cache|--list-chunks STORE COMMAND...): run the given commands
  // against STORE (the build makes one with a machine) with their output discarded. --list-chunks then
  // prints the chunks they ran, as JSON (the build packs them into dist/fast.cjs); --make-cache saves each
  // pack's compiled code for this Node, the functions those commands ran included, and then a cache for
  // every pack of dist/ still without one.
  const [store, ...commands] = process.argv.slice(3);
  const warmUp = async () => {
    for (const command of commands) {
      const env = { MOOR_STORAGE_PATH: store, DOCKER_HOST: 'tcp://127.0.0.1:1' };
      await module.exports.runFast(command.split(' '), env, () => undefined).catch(() => false);
    }
  };
  warmUp().then(() => {
    if (buildMode === '--list-chunks') process.stdout.write(`${JSON.stringify(packs.chunksRun())}\n`);
    else {
      packs.writeCaches();
      // The packs no command ran (other drivers and commands, the CLI's too): compiled as a command would.
      packs.fillMissingCaches();
    }
  });
}
