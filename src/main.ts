// The bundled CLI's entry: oclif's runner and the explicit command list, in one file.
import { execute } from '@oclif/core';
import { COMMANDS } from './commands-index.js';
import { planArgv } from './cli/argv.js';

export { execute, COMMANDS };
export { normalizeArgv } from './cli/argv.js';
// The CommonJS loader (dist/cli-loader.cjs) hands the registry its own import() for npm driver packages.
export { useModuleImporter } from '../drivers/registry.js';

/**
 * Runs moor for `argv` (without node and the script): the command line is read first (global flags in
 * front, -h and -v anywhere, an unknown command or leading flag reported in moor's format), then oclif
 * runs the command.
 */
export async function run(argv: string[], options: Omit<Parameters<typeof execute>[0], 'args'>): Promise<void> {
  const plan = planArgv(argv, Object.keys(COMMANDS));
  if ('argv' in plan) {
    await execute({ ...options, args: plan.argv });
    return;
  }
  const [{ reportError, debugRequested }, { unknownCommand, unknownLeadingFlag }] = await Promise.all([
    import('./cli/report.js'),
    import('./cli/usage.js'),
  ]);
  const error =
    plan.unknownCommand === undefined
      ? unknownLeadingFlag(plan.unknownFlag ?? '')
      : unknownCommand(
          plan.unknownCommand,
          Object.keys(COMMANDS).map((id) => id.replace(/:/g, ' ')),
        );
  process.exitCode = reportError(error, { json: plan.json, debug: debugRequested(argv) });
}

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
