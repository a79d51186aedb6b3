'use strict';
// Loads dist/fast.cjs (the fast path: src/fast.ts bundled as one CommonJS file) through V8's code cache,
// dist/fast.cjs.cache, written at build time (--make-cache). CommonJS, one file, compiled code from the
// cache: no ES module loader at all, which is most of what an everyday command cost (resolving, reading and
// linking some thirty modules, and node:fs's ES module facade, which loads node:stream). A cache that does
// not fit this Node (another version or flags) is rejected by V8, and the source is compiled as usual.
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, 'fast.cjs');
const cacheFile = `${file}.cache`;

function readCache() {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

const cachedData = readCache();
const script = new Script(
  `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`,
  { filename: file, ...(cachedData ? { cachedData } : {}) },
);
const loaded = { exports: {} };
script.runInThisContext()(loaded.exports, Module.createRequire(file), loaded, file, dirname(file));
module.exports = loaded.exports;

if (require.main === module && process.argv[2] === '--make-cache') {
  // Build step (node dist/fast-loader.cjs --make-cache COMMAND...): run the given commands in a throw-away
  // store with their output discarded (so that the functions they need are compiled too), then save the
  // compiled code. Commands that fail there (no machine) still compile what they ran.
  const { mkdtempSync, rmSync } = require('node:fs');
  const { tmpdir } = require('node:os');
  const store = mkdtempSync(join(tmpdir(), 'moor-cache-'));
  const warmUp = async () => {
    for (const command of process.argv.slice(3)) {
      await loaded.exports
        .runFast(command.split(' '), { MOOR_STORAGE_PATH: store }, () => undefined)
        .catch(() => false);
    }
  };
  warmUp()
    .then(() => writeFileSync(cacheFile, script.createCachedData()))
    .finally(() => rmSync(store, { recursive: true, force: true }));
}
