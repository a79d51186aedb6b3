'use strict';
// The full CLI (src/main.ts: oclif's runner and every command; src/help.ts: moor's help) from its packs
// (scripts/packs.mjs, read by scripts/pack-loader.cjs with V8's code caches): dist/cli.cjs holds the entry and
// what it imports statically, dist/cli-<chunk>.cjs each chunk a command imports on use. No ES module loader:
// on Node 20, which has no compile cache for ES modules, compiling and linking the CLI's modules was some
// 25 ms of every command. package.json's oclif section names this file for the commands (COMMANDS) and the
// help class (MoorHelp, read on first use).
const packs = require('./pack-loader.cjs');

const cli = packs.load('cli');
// npm driver packages are ES modules: the packs' import() calls became require(), so the registry imports
// them through this file's own import().
cli.useModuleImporter((url) => import(url));
module.exports = { ...cli };
Object.defineProperty(module.exports, 'MoorHelp', { enumerable: true, get: () => packs.load('cli-help').default });

// Once the command is done, the packs it read without a cache (another Node than the build's, or the
// build's own warm-up) get one, if the package folder is writable.
process.once('exit', () => packs.saveMissingCaches());
