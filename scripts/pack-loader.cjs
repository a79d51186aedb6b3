'use strict';
// Loads moor's packs (scripts/packs.mjs) from dist/, each through V8's code cache
// (<pack>.cjs.<node version>-<arch>.cache, written at build time or by the first run on another Node).
// CommonJS, compiled code from the cache: no ES module loader at all, which cost about what an everyday
// command does (resolving, reading and linking some thirty modules, and node:fs's ES module facade, which
// loads node:stream). A cache that does not fit this Node (another version or flags) is rejected by V8, and
// the source is compiled as usual.
//
// A pack file holds one or more chunks, each a CommonJS function. A chunk runs once, on first require, and
// every chunk that requires it gets the same exports: the modules are shared as in one bundle, and a command
// reads and runs only the code it uses.
const { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const dist = __dirname;
const nodeRequire = Module.createRequire(join(dist, 'pack-loader.cjs'));
// A cache fits only the Node that made it (V8 rejects it elsewhere, after reading it): its name says which.
const cacheSuffix = `.${process.version}-${process.arch}.cache`;

/** Chunk id -> its function and the URL of its pack, for every chunk of the packs read so far. */
const factories = new Map();
/** Chunk id -> its module ({ exports }), once it ran. */
const modules = new Map();
/** The packs read so far, in order: { name, script, hadCache } (hadCache: a cache file was there). */
const packs = [];
let vm;
let ignoreCaches = false;

function readCache(file) {
  if (ignoreCaches) return undefined;
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
  // latin1: the build writes packs in ASCII (scripts/packs.mjs), which latin1 reads without UTF-8's decoding.
  const source = readFileSync(file, 'latin1');
  const script = new vm.Script(source, { filename: file, ...(cachedData ? { cachedData } : {}) });
  packs.push({ name, script, hadCache: cachedData !== undefined });
  const chunks = script.runInThisContext();
  const url = pathToFileURL(file).href;
  for (const id of Object.keys(chunks)) factories.set(id, { factory: chunks[id], url });
}

/** The exports of chunk `id` (its pack read, and the chunk run, on first use). */
function load(id) {
  const loaded = modules.get(id);
  if (loaded) return loaded.exports;
  if (!factories.has(id)) readPack(id);
  const chunk = factories.get(id);
  if (!chunk) throw new Error(`moor: the chunk ${id} is not in dist/${id}.cjs`);
  const module = { exports: {} };
  modules.set(id, module);
  chunk.factory.call(module.exports, module.exports, chunkRequire, module, chunk.url);
  module.exports = settled(module.exports);
  return module.exports;
}

/**
 * A chunk's exports as plain properties. Its CommonJS form exports getters (ES modules' live bindings);
 * every use of an import from another chunk would call one, and an everyday command runs its code in V8's
 * interpreter, where such calls cost (ls of 50 machines: several ms). A chunk runs to its end before any
 * other reads its exports (the build refuses chunks that require each other), and moor's modules export no
 * binding they assign again (`export let` is refused by test/unit/packs.test.ts): their values are final.
 * A binding still unassigned when the chunk finished is one that esbuild initialises later (a module of a
 * dependency bundled with lazy initialisation, such as the AWS SDK's): it stays a getter.
 */
function settled(exports) {
  const plain = {};
  for (const key of Object.keys(exports)) {
    const value = exports[key];
    if (value === undefined) Object.defineProperty(plain, key, { enumerable: true, get: () => exports[key] });
    else plain[key] = value;
  }
  if (exports.__esModule) Object.defineProperty(plain, '__esModule', { value: true });
  return plain;
}

/** A chunk's require: its sibling chunks ("./<chunk>.js") from the packs, anything else from Node. */
function chunkRequire(request) {
  return request.startsWith('./') && request.endsWith('.js') && !request.includes('/', 2)
    ? load(request.slice(2, -3))
    : nodeRequire(request);
}

/**
 * Saves a pack's compiled code for this Node, atomically, unless another process saved one meanwhile (a
 * command running beside this one, or the build's warm-up); never fails.
 */
function saveCache(pack) {
  const cacheFile = join(dist, `${pack.name}.cjs${cacheSuffix}`);
  if (existsSync(cacheFile)) return;
  const partial = `${cacheFile}.${process.pid}.partial`;
  try {
    writeFileSync(partial, pack.script.createCachedData(), { flag: 'wx' });
    renameSync(partial, cacheFile);
  } catch {
    rmSync(partial, { force: true });
  }
}

module.exports = {
  load,
  /**
   * Every pack read without a cache file (a Node other than the build's) gets one, if the package folder is
   * writable; else (read-only) the next start compiles it again. Called once a command is done.
   */
  saveMissingCaches() {
    for (const pack of packs) {
      if (!pack.hadCache) {
        saveCache(pack);
        pack.hadCache = true;
      }
    }
  },
  /** Whether pack `name` was read with a cache file for this Node (false when it was not read). */
  hadCache: (name) => packs.some((pack) => pack.name === name && pack.hadCache),
  /** Build steps: read no cache (--make-cache), and write every pack's cache now. */
  ignoreCaches() {
    ignoreCaches = true;
  },
  writeCaches() {
    for (const pack of packs)
      writeFileSync(join(dist, `${pack.name}.cjs${cacheSuffix}`), pack.script.createCachedData());
  },
  /**
   * Build step: a cache for this Node beside every pack of dist/ that has none (the packs no build-time command
   * ran: their chunk functions, compiled eagerly with the pack).
   */
  fillMissingCaches() {
    const files = readdirSync(dist);
    for (const file of files) {
      const isPack = /^(fast|cli)(-[\w-]+)?\.cjs$/.test(file) && !file.endsWith('-loader.cjs');
      if (!isPack || files.includes(file + cacheSuffix)) continue;
      vm ??= require('node:vm');
      const script = new vm.Script(readFileSync(join(dist, file), 'latin1'), { filename: join(dist, file) });
      writeFileSync(join(dist, file + cacheSuffix), script.createCachedData());
    }
  },
  /** The chunks that ran so far (the build puts the everyday commands' into dist/fast.cjs). */
  chunksRun: () => [...modules.keys()],
};
