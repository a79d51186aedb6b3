import { BaseCommand } from '../base-command.js';
import { machineSshTimeoutFlag, sshTimeoutOption } from '../cli/flags.js';
import { NAMES_ARG } from '../cli/names.js';

export default class Upgrade extends BaseCommand<typeof Upgrade> {
  static override summary = 'Upgrade Docker on one or more machines.';
  static override description =
    'Upgrades the engine the way it was installed: the distribution packages (to --engine-version when one was given at create), or the install script again. The engine restarts only when its version changed.';
  static override examples = ['<%= config.bin %> upgrade web', '<%= config.bin %> upgrade web db'];
  static override strict = false;
  static override args = NAMES_ARG;
  static override flags = {
    'ssh-timeout': machineSshTimeoutFlag(),
  };

  async run() {
    const names = await this.machineNames(this.positionals);
    const results = await this.eachMachine(
      (moor) => moor.upgrade(names, sshTimeoutOption(this.flags['ssh-timeout'])),
      (name, result) =>
        `${name}: Docker ${result.engineVersion}${result.changed ? ' (upgraded)' : ' (already the newest available)'}`,
    );
    return results.map(({ name, result }) => ({ name, ...result }));
  }
}
