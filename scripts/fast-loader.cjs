'use strict';
// Loads dist/fast.cjs (the fast path: src/fast.ts bundled as one CommonJS file) through V8's code cache,
// dist/fast.cjs.<node version>-<arch>.cache, written at build time (--make-cache) or by the first run on
// another Node. CommonJS, one file, compiled code from the cache: no ES module loader at all, which is most of what an everyday command cost (resolving, reading and
// linking some thirty modules, and node:fs's ES module facade, which loads node:stream). A cache that does
// not fit this Node (another version or flags) is rejected by V8, and the source is compiled as usual.
const { readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname, join } = require('node:path');

const file = join(__dirname, 'fast.cjs');
// The cache fits only the Node that made it (V8 rejects it elsewhere, after reading it): its name says which.
const cacheFile = `${file}.${process.version}-${process.arch}.cache`;

function readCache() {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

const makeCache = require.main === module && process.argv[2] === '--make-cache';
const cachedData = makeCache ? undefined : readCache();
// node:vm (V8's code cache) is used with the build's cache, and also without one: then, once a command ran,
// the compiled code is saved for this Node (another Node than the build's) beside the build's, if the package
// folder is writable, so that later starts read it. Else (a read-only folder) the next start compiles again.
const { Script } = require('node:vm');
const script = new Script(
  `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`,
  {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  },
);
const loaded = { exports: {} };
script.runInThisContext()(loaded.exports, Module.createRequire(file), loaded, file, dirname(file));
module.exports = { ...loaded.exports };

/** Saves the compiled code for this Node, atomically (another moor may be doing the same); never fails. */
function saveCache() {
  const partial = `${cacheFile}.${process.pid}.partial`;
  try {
    writeFileSync(partial, script.createCachedData(), { flag: 'wx' });
    renameSync(partial, cacheFile);
  } catch {
    rmSync(partial, { force: true });
  }
}

// npm driver packages are ES modules: they are imported by this file's own import() (a module loaded by
// require), since the bundle's import() calls became require() and code run from a V8 cache has no import().
const { runFast } = module.exports;
module.exports.runFast = async (argv, env, output) => {
  const answered = await runFast(argv, env, output, (url) => import(url));
  if (answered && !cachedData && !makeCache) saveCache();
  return answered;
};

if (makeCache) {
  // Build step (node dist/fast-loader.cjs --make-cache STORE COMMAND...): run the given commands against
  // STORE (the build makes one with a machine) with their output discarded, so that the functions they
  // need are compiled too, then save the compiled code for this Node.
  const [store, ...commands] = process.argv.slice(3);
  const warmUp = async () => {
    for (const command of commands) {
      const env = { MOOR_STORAGE_PATH: store, DOCKER_HOST: 'tcp://127.0.0.1:1' };
      await module.exports.runFast(command.split(' '), env, () => undefined).catch(() => false);
    }
  };
  warmUp().then(() => writeFileSync(cacheFile, script.createCachedData()));
}
