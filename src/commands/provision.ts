import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { machineSshTimeoutFlag, sshTimeoutOption } from '../cli/flags.js';
import { NAMES_ARG } from '../cli/names.js';

export default class Provision extends BaseCommand<typeof Provision> {
  static override summary = 'Install and configure Docker again on one or more machines.';
  static override description =
    'Runs provisioning over SSH again: installs Docker if it is missing, rewrites the engine configuration from the machine record, copies the certificates and restarts the engine only when something changed. Safe to repeat.';
  static override examples = ['<%= config.bin %> provision web', '<%= config.bin %> provision --repin-host-key web'];
  static override strict = false;
  static override args = NAMES_ARG;
  static override flags = {
    'repin-host-key': Flags.boolean({
      description: "Trust the host's current SSH host key (after a reinstall) and pin it",
    }),
    'ssh-timeout': machineSshTimeoutFlag(),
  };

  async run() {
    const names = await this.machineNames(this.positionals);
    const results = await this.eachMachine(
      (moor) =>
        moor.provision(names, {
          ...sshTimeoutOption(this.flags['ssh-timeout']),
          repinHostKey: this.flags['repin-host-key'],
        }),
      (name, result) =>
        `${name}: Docker ${result.engineVersion} ${result.changed ? 'provisioned' : 'already up to date'}`,
    );
    return results.map(({ name, result }) => ({ name, ...result }));
  }
}
