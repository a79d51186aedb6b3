// The bundled CLI's entry: oclif's runner and the explicit command list, in one file.
export { execute } from '@oclif/core';
export { COMMANDS } from './commands-index.js';
export { normalizeArgv } from './cli/argv.js';

const noop = (): void => undefined;

/**
 * oclif's logger writes only when DEBUG names its namespaces; building it loads the `debug` package and
 * probes the terminal at every start. Without DEBUG, this one does nothing at no cost.
 */
export function quietLogger(namespace = 'oclif') {
  return {
    child: (ns: string, delimiter?: string) => quietLogger(`${namespace}${delimiter ?? ':'}${ns}`),
    debug: noop,
    error: noop,
    info: noop,
    namespace,
    trace: noop,
    warn: noop,
  };
}
