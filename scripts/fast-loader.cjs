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

/** The commands whose compiled code the caches hold, run against a store with the machine `web`. */
const WARM_UP = ['ls -q', 'ls', 'env web', 'inspect web', 'url web', 'active'];
const WARM_CREATE = (name) => `create -d none --url tcp://127.0.0.1:1 ${name}`;

// npm driver packages are ES modules: they are imported by this file's own import() (a module loaded by
// require), since the packs' import() calls became require() and code run from a V8 cache has no import().
const importModule = (url) => import(url);

/**
 * Runs `commands` against `store` with their output and errors discarded and the exit code left as it was:
 * the functions they run get compiled, and so go into the caches saved after.
 */
async function warmUp(store, commands) {
  const exitCode = process.exitCode;
  const env = { MOOR_STORAGE_PATH: store, DOCKER_HOST: 'tcp://127.0.0.1:1' };
  for (const command of commands) {
    await runFast(command.split(' '), env, () => undefined, importModule).catch(() => false);
  }
  process.exitCode = exitCode;
}

/**
 * The first command on a Node the build did not make caches for: before the caches are saved, the everyday
 * commands and a create run too (against a store of their own in the temporary folder, removed after), so
 * that the caches hold what the build's would, not only the first command's functions (ls with a cache
 * made by a create compiled its template engine at every start: 3 ms of Node 22's 29 ms). Once, and only
 * where the caches can be written.
 */
async function warmUpFirstRun() {
  const { accessSync, constants, mkdtempSync, rmSync } = require('node:fs');
  try {
    accessSync(__dirname, constants.W_OK);
  } catch {
    return; // a read-only install: no cache would be saved
  }
  const { join } = require('node:path');
  const store = mkdtempSync(join(require('node:os').tmpdir(), 'moor-warm-up-'));
  try {
    await warmUp(store, [WARM_CREATE('web'), ...WARM_UP]);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

// Once a command answered, the packs it read without a cache (another Node than the build's) get one.
module.exports.runFast = async (argv, env, output) => {
  const answered = await runFast(argv, env, output, importModule);
  if (answered && !buildMode) {
    if (!packs.hadCache('fast')) await warmUpFirstRun().catch(() => undefined);
    packs.saveMissingCaches();
  }
  return answered;
};

if (buildMode === '--make-cache' || buildMode === '--list-chunks') {
  // Build steps (node dist/fast-loader.cjs --make-cache|--list-chunks STORE): run the everyday commands against
  // STORE (the build makes one with the machine web) with their output discarded. --list-chunks then prints
  // the chunks they ran, as JSON (the build packs them into dist/fast.cjs); --make-cache runs a create too and
  // saves each pack's compiled code for this Node, the functions those commands ran included, and then a
  // cache for every pack of dist/ still without one.
  const store = process.argv[3];
  const commands = buildMode === '--make-cache' ? [...WARM_UP, WARM_CREATE('warm')] : WARM_UP;
  warmUp(store, commands).then(() => {
    if (buildMode === '--list-chunks') process.stdout.write(`${JSON.stringify(packs.chunksRun())}\n`);
    else {
      packs.writeCaches();
      // The packs no command ran (other drivers and commands, the CLI's too): compiled as a command would.
      packs.fillMissingCaches();
    }
  });
}
