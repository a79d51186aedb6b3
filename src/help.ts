/**
 * moor's help: like oclif's, except that `moor create --driver X --help` shows only driver X's flags
 * (as docker-machine's two-pass parse did), and `moor create --help` shows every driver's flags grouped.
 */
import { Help, type Command } from '@oclif/core';
import { DRIVER_HELP_GROUP_SUFFIX } from './cli/driver-flags.js';

export default class MoorHelp extends Help {
  override async showCommandHelp(command: Command.Loadable): Promise<void> {
    const driver = command.id === 'create' ? requestedDriver(process.argv) : undefined;
    if (!driver) return super.showCommandHelp(command);
    const flags = Object.fromEntries(
      Object.entries(command.flags).filter(([, flag]) => {
        const group = flag.helpGroup ?? '';
        return !group.endsWith(DRIVER_HELP_GROUP_SUFFIX) || group === `${driver}${DRIVER_HELP_GROUP_SUFFIX}`;
      }),
    );
    return super.showCommandHelp({ ...command, flags });
  }
}

function requestedDriver(argv: string[]): string | undefined {
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--driver' || arg === '-d') return argv[index + 1];
    if (arg.startsWith('--driver=')) return arg.slice('--driver='.length);
    if (arg.startsWith('-d') && arg.length > 2) return arg.slice(2).replace(/^=/, '');
  }
  return process.env['MOOR_DRIVER'] || undefined;
}
