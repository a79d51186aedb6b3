'use strict';
// node:fs/promises in the fast path (dist/fast.cjs): the same functions, without loading node:fs/promises
// at start. On Node 22 and 24 that module brings readline, file watchers, node:fs's Dir and string_decoder
// with it: some 2 ms of an everyday command that only reads a few files. The functions moor calls with a
// path are node:fs's callback forms wrapped in a promise (same arguments, results and errors); anything
// else (a FileHandle argument, open(), a stream as data, a name not listed) is the real module's, loaded on
// first use. scripts/build.mjs resolves node:fs/promises to this file in the fast bundle only.
const fs = require('node:fs');
const { promisify } = require('node:util'); // loaded at every Node's start

let real;
const promises = () => (real ??= require('node:fs/promises'));

const isPath = (value) => typeof value === 'string' || Buffer.isBuffer(value) || value instanceof URL;
const isData = (value) => typeof value === 'string' || ArrayBuffer.isView(value);

/**
 * fs[name] with a promise; `data` is the index of a data argument (writeFile: 1), checked as well. Promisified
 * on first call: a command calls a few of these, and each promisify() allocates.
 */
function viaCallback(name, data) {
  let call;
  return function (...args) {
    if (!isPath(args[0]) || (data !== undefined && !isData(args[data]))) return promises()[name](...args);
    // An options argument given as undefined is left out: the callback forms take the callback in its place.
    while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
    call ??= promisify(fs[name]);
    return call(...args);
  };
}

for (const name of [
  'access',
  'chmod',
  'copyFile',
  'link',
  'lstat',
  'mkdir',
  'mkdtemp',
  'readFile',
  'readdir',
  'readlink',
  'realpath',
  'rename',
  'rm',
  'rmdir',
  'stat',
  'symlink',
  'unlink',
  'utimes',
]) {
  exports[name] = viaCallback(name);
}
exports.writeFile = viaCallback('writeFile', 1);
exports.appendFile = viaCallback('appendFile', 1);

// The rest of the module, loaded on first use (test/unit/fs-promises-lazy.test.ts checks that this list and
// the one above hold every name node:fs/promises has on the Node that runs it).
for (const name of [
  'chown',
  'cp',
  'glob',
  'lchmod',
  'lchown',
  'lutimes',
  'mkdtempDisposable',
  'open',
  'opendir',
  'statfs',
  'truncate',
  'watch',
]) {
  exports[name] = (...args) => promises()[name](...args);
}
Object.defineProperty(exports, 'constants', { enumerable: true, get: () => fs.constants });

// The bundle imports this file in node mode (it is CommonJS), where esbuild's __toESM copies its exports onto
// a new object at every import (nine in dist/fast.cjs: some 60 KB of a create's young heap). As an ES module
// that is its own default export, scripts/packs.mjs's __toESM gives it as it is.
Object.defineProperty(exports, '__esModule', { value: true });
exports.default = exports;
