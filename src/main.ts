// The bundled CLI's entry: oclif's runner and the explicit command list, in one file.
export { execute } from '@oclif/core';
export { COMMANDS } from './commands-index.js';
export { normalizeArgv } from './cli/argv.js';
