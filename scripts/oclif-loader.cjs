'use strict';
// Loads dist/oclif.cjs (the bundled @oclif/core) through V8's code cache, dist/oclif.cjs.cache, written at
// build time (--make-cache): a start then deserializes compiled code instead of compiling oclif
// again. A cache that does not fit this Node (another version or flags) is rejected by V8, and the source
// is compiled as usual: slower, never wrong.
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, 'oclif.cjs');
const cacheFile = `${file}.cache`;

// The bundle's import() calls go through this module's own import() (see the build), so that compiled
// code from the cache needs no dynamic-import hook of node:vm's.
const PARAMETERS = ['exports', 'require', 'module', '__filename', '__dirname', '__moorImport'];

function compile(cachedData) {
  const source = `(function (${PARAMETERS.join(', ')}) {${readFileSync(file, 'utf8')}\n})`;
  return new Script(source, { filename: file, ...(cachedData ? { cachedData } : {}) });
}

function run(script) {
  const module = { exports: {}, filename: file, id: file, loaded: false };
  const moorImport = (specifier) => import(specifier);
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, dirname(file), moorImport);
  module.loaded = true;
  return module.exports;
}

function readCache() {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

if (require.main === module && process.argv[2] === '--make-cache') {
  // Build step (node dist/oclif-loader.cjs --make-cache [COMMAND...]): compile oclif, run the given
  // commands of the built CLI in a throw-away store (so that the functions every start needs are compiled
  // too), then save the compiled code.
  const script = compile(undefined);
  module.exports = run(script);
  const warmUp = async () => {
    const { mkdtempSync, rmSync } = require('node:fs');
    const { tmpdir } = require('node:os');
    const store = mkdtempSync(join(tmpdir(), 'moor-cache-'));
    const { execute, quietLogger } = require('./cli-loader.cjs');
    const write = process.stdout.write.bind(process.stdout);
    const writeError = process.stderr.write.bind(process.stderr);
    process.stdout.write = () => true; // the commands' output is not wanted
    process.stderr.write = () => true;
    process.env.MOOR_STORAGE_PATH = store;
    try {
      for (const command of process.argv.slice(3)) {
        await execute({
          args: command.split(' '),
          loadOptions: { root: join(__dirname, '..'), logger: quietLogger() },
        }).catch(() => undefined);
      }
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeError;
      rmSync(store, { recursive: true, force: true });
    }
  };
  warmUp().then(() => {
    writeFileSync(cacheFile, script.createCachedData());
    process.exitCode = 0;
  });
} else {
  module.exports = run(compile(readCache()));
}
