/**
 * moor's help: like oclif's, except that `moor create --driver X --help` shows only driver X's flags
 * (as docker-machine's two-pass parse did; for a driver installed beside moor, the flags it declares: a
 * plugin binary is started for them), and `moor create --help` shows every built-in driver's flags grouped
 * and names the installed drivers found, without starting any.
 */
import { Help, type Command } from '@oclif/core';
import { DRIVER_HELP_GROUP_SUFFIX, driverLookup, helpFlags, requestedDriver } from './cli/driver-flags.js';
import { DRIVERS, discoverDrivers, findDriver } from '../drivers/registry.js';

export default class MoorHelp extends Help {
  override async showCommandHelp(command: Command.Loadable): Promise<void> {
    if (command.id !== 'create') return super.showCommandHelp(command);
    const argv = process.argv.slice(2);
    const driver = requestedDriver(argv);
    const lookup = await driverLookup(argv);
    if (!driver) {
      const installed = discoverDrivers(lookup);
      if (installed.length === 0) return super.showCommandHelp(command);
      const names = installed.map(
        (found) => `${found.name} (${found.kind === 'npm' ? 'npm package' : 'plugin'} ${found.path})`,
      );
      const flags = { ...command.flags };
      const driverFlag = flags['driver'];
      if (driverFlag) {
        flags['driver'] = {
          ...driverFlag,
          description: `${driverFlag.description ?? ''}; installed: ${names.join(', ')} (their flags: moor create -d NAME --help)`,
        };
      }
      return super.showCommandHelp({ ...command, flags });
    }
    let extra: ReturnType<typeof helpFlags> = {};
    if (!DRIVERS.has(driver)) {
      try {
        extra = helpFlags(await findDriver(driver, lookup, { withFlags: true }), command.flags);
      } catch (error) {
        // An unknown driver, or a plugin that fails to answer: moor's error, and its exit code, not help.
        const { reportError, debugRequested } = await import('./cli/report.js');
        process.exitCode = reportError(error as Error, { json: argv.includes('--json'), debug: debugRequested(argv) });
        return;
      }
    }
    const flags = Object.fromEntries(
      Object.entries({ ...command.flags, ...extra }).filter(([, flag]) => {
        const group = flag.helpGroup ?? '';
        return !group.endsWith(DRIVER_HELP_GROUP_SUFFIX) || group === `${driver}${DRIVER_HELP_GROUP_SUFFIX}`;
      }),
    );
    return super.showCommandHelp({ ...command, flags } as Command.Loadable);
  }
}
