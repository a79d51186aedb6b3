import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { machineSshTimeoutFlag, sshTimeoutOption } from '../cli/flags.js';
import { NAMES_ARG } from '../cli/names.js';
import { confirm } from '../cli/prompt.js';

export default class RegenerateCerts extends BaseCommand<typeof RegenerateCerts> {
  static override summary = 'Issue new TLS certificates for one or more machines.';
  static override description =
    'Issues a new server certificate for each machine (for its current address and its --tls-san names) and installs it on the host, restarting the engine. With --client-certs, first creates a new CA and client certificate: the named machines then accept only the new client certificate; other machines keep theirs until they are regenerated too.';
  static override examples = [
    '<%= config.bin %> regenerate-certs web',
    '<%= config.bin %> regenerate-certs -f --client-certs web db',
  ];
  static override strict = false;
  static override args = NAMES_ARG;
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'Do not ask for confirmation' }),
    'client-certs': Flags.boolean({ description: 'Also create a new CA and client certificate' }),
    'ssh-timeout': machineSshTimeoutFlag(),
  };

  async run() {
    const names = await this.machineNames(this.positionals);
    if (!this.flags.force) {
      const answer = await confirm(
        `Regenerate TLS machine certs for ${names.join(', ')}?  Warning: this is irreversible. (y/n): `,
      );
      if (answer === undefined) {
        const { UsageError } = await import('../core/errors.js');
        throw new UsageError(
          'Refusing to regenerate certificates without confirmation: standard input is not a terminal.',
          [`Add -f to confirm: moor regenerate-certs -f ${names.join(' ')}`],
        );
      }
      if (!answer) return [];
    }
    const results = await this.eachMachine(
      (moor) =>
        moor.regenerateCerts(names, {
          clientCerts: this.flags['client-certs'],
          ...sshTimeoutOption(this.flags['ssh-timeout']),
        }),
      (name) => `${name}: new certificates installed`,
    );
    return results.map(({ name }) => ({ name, regenerated: true }));
  }
}
