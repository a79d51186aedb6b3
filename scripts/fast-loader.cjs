'use strict';
// Loads the fast path (src/fast.ts) from its packs in dist/, each through V8's code cache
// (<pack>.cjs.<node version>-<arch>.cache, written at build time or by the first run on another Node).
// CommonJS, compiled code from the cache: no ES module loader at all, which is most of what an everyday
// command cost (resolving, reading and linking some thirty modules, and node:fs's ES module facade, which
// loads node:stream). A cache that does not fit this Node (another version or flags) is rejected by V8, and
// the source is compiled as usual.
//
// The build (scripts/fast-packs.mjs) splits src/fast.ts into chunks, one per module it imports on demand
// (a driver, create, certificates, provisioning...) and one per set of modules those share, each turned into
// a CommonJS function. A pack file holds one or more of them: dist/fast.cjs holds the entry and every chunk
// the everyday commands need, dist/fast-<chunk>.cjs each other chunk. A chunk runs once, on first require,
// and every chunk that requires it gets the same exports: the modules are shared as in one bundle, and a
// command reads and runs only the code it uses.
const { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');

const dist = __dirname;
const ENTRY = 'fast';
// Every pack gets this as its import.meta.url (render.ts and the registry find the package from it).
const importMetaUrl = require('node:url').pathToFileURL(join(dist, `${ENTRY}.cjs`)).href;
const nodeRequire = Module.createRequire(join(dist, `${ENTRY}.cjs`));
// A cache fits only the Node that made it (V8 rejects it elsewhere, after reading it): its name says which.
const cacheSuffix = `.${process.version}-${process.arch}.cache`;
const buildMode = require.main === module ? process.argv[2] : undefined;

/** Chunk id -> its function, for every chunk of the packs read so far. */
const factories = new Map();
/** Chunk id -> its module ({ exports }), once it ran. */
const modules = new Map();
/** The packs read so far, in order: { name, script, hadCache } (hadCache: a cache file was there). */
const packs = [];
let vm;

function readCache(file) {
  if (buildMode === '--make-cache') return undefined;
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Reads dist/<name>.cjs, an object literal of chunk functions, and registers them. */
function readPack(name) {
  const file = join(dist, `${name}.cjs`);
  const cachedData = readCache(file + cacheSuffix);
  vm ??= require('node:vm');
  const script = new vm.Script(readFileSync(file, 'utf8'), { filename: file, ...(cachedData ? { cachedData } : {}) });
  packs.push({ name, script, hadCache: cachedData !== undefined });
  const chunks = script.runInThisContext();
  for (const id of Object.keys(chunks)) factories.set(id, chunks[id]);
}

function load(id) {
  const loaded = modules.get(id);
  if (loaded) return loaded.exports;
  if (!factories.has(id)) readPack(id);
  const factory = factories.get(id);
  if (!factory) throw new Error(`moor: the fast path's chunk ${id} is not in dist/${id}.cjs`);
  const module = { exports: {} };
  modules.set(id, module);
  factory.call(module.exports, module.exports, chunkRequire, module, importMetaUrl);
  module.exports = settled(module.exports);
  return module.exports;
}

/**
 * A chunk's exports as plain properties. Its CommonJS form exports getters (ES modules' live bindings);
 * every use of an import from another chunk would call one, and an everyday command runs its code in V8's
 * interpreter, where such calls cost (ls of 50 machines: several ms). A chunk runs to its end before any
 * other reads its exports (the chunks require each other without cycles), and moor's modules export no
 * binding they assign again (`export let` is refused by test/unit/fast-packs.test.ts): the values are final.
 */
function settled(exports) {
  const plain = {};
  for (const key of Object.keys(exports)) plain[key] = exports[key];
  if (exports.__esModule) Object.defineProperty(plain, '__esModule', { value: true });
  return plain;
}

/** A chunk's require: its sibling chunks ("./fast-<chunk>.js") from the packs, anything else from Node. */
function chunkRequire(request) {
  return request.startsWith('./fast') && request.endsWith('.js') ? load(request.slice(2, -3)) : nodeRequire(request);
}

const { runFast, ...rest } = load(ENTRY);
module.exports = { ...rest };

/** Saves a pack's compiled code for this Node, atomically (another moor may be doing the same); never fails. */
function saveCache(pack) {
  const cacheFile = join(dist, `${pack.name}.cjs${cacheSuffix}`);
  const partial = `${cacheFile}.${process.pid}.partial`;
  try {
    writeFileSync(partial, pack.script.createCachedData(), { flag: 'wx' });
    renameSync(partial, cacheFile);
  } catch {
    rmSync(partial, { force: true });
  }
}

// npm driver packages are ES modules: they are imported by this file's own import() (a module loaded by
// require), since the bundle's import() calls became require() and code run from a V8 cache has no import().
// Once a command answered, a pack read without a cache file (a Node other than the build's) gets one, if the
// package folder is writable; else (read-only) the next start compiles it again.
module.exports.runFast = async (argv, env, output) => {
  const answered = await runFast(argv, env, output, (url) => import(url));
  if (answered && !buildMode) for (const pack of packs) if (!pack.hadCache) saveCache(pack);
  return answered;
};

if (buildMode === '--make-cache' || buildMode === '--list-chunks') {
  // Build steps (node dist/fast-loader.cjs --make-cache|--list-chunks STORE COMMAND...): run the given commands
  // against STORE (the build makes one with a machine) with their output discarded. --list-chunks then
  // prints the chunks they ran, as JSON (the build packs them into dist/fast.cjs); --make-cache saves each
  // pack's compiled code for this Node, the functions those commands ran included.
  const [store, ...commands] = process.argv.slice(3);
  const warmUp = async () => {
    for (const command of commands) {
      const env = { MOOR_STORAGE_PATH: store, DOCKER_HOST: 'tcp://127.0.0.1:1' };
      await module.exports.runFast(command.split(' '), env, () => undefined).catch(() => false);
    }
  };
  warmUp().then(() => {
    if (buildMode === '--list-chunks') {
      process.stdout.write(`${JSON.stringify([...modules.keys()])}\n`);
      return;
    }
    const read = new Set(packs.map((pack) => pack.name));
    for (const pack of packs)
      writeFileSync(join(dist, `${pack.name}.cjs${cacheSuffix}`), pack.script.createCachedData());
    // The packs no command ran: compiled as a command would (their chunk functions are compiled eagerly).
    for (const file of readdirSync(dist)) {
      const name = /^(fast(?:-[\w-]+)?)\.cjs$/.exec(file)?.[1];
      if (!name || name === 'fast-loader' || read.has(name)) continue;
      const script = new vm.Script(readFileSync(join(dist, file), 'utf8'), { filename: join(dist, file) });
      writeFileSync(join(dist, file + cacheSuffix), script.createCachedData());
    }
  });
}
