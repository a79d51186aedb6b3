import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { NAMES_ARG } from '../cli/names.js';
import { confirm } from '../cli/prompt.js';

export default class Rm extends BaseCommand<typeof Rm> {
  static override summary = 'Remove one or more machines.';
  static override description =
    'Removes each machine with its driver (the none driver only forgets the record), then deletes its record, keys and certificates.';
  static override examples = [
    '<%= config.bin %> rm web',
    '<%= config.bin %> rm -y web db',
    '<%= config.bin %> rm -f broken',
  ];
  static override strict = false;
  static override args = NAMES_ARG;
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation' }),
    force: Flags.boolean({
      char: 'f',
      description: 'Remove the local record even if the driver cannot remove the host (implies -y)',
    }),
  };

  async run() {
    const names = await this.machineNames(this.positionals);
    if (!this.flags.yes && !this.flags.force) {
      const { UsageError } = await import('../core/errors.js');
      const question =
        `About to remove ${names.join(', ')}\n` +
        'WARNING: This deletes the local record and, for machines whose driver created the host, the host itself ' +
        '(servers of the generic and none drivers are left running).\nAre you sure? (y/n): ';
      const answer = await confirm(question);
      if (answer === undefined) {
        throw new UsageError('Refusing to remove without confirmation: standard input is not a terminal.', [
          `Add -y to confirm: moor rm -y ${names.join(' ')}`,
        ]);
      }
      if (!answer) {
        this.logToStderr('Nothing removed.');
        return [];
      }
    }
    const results = await this.eachMachine(
      (moor) => moor.remove(names, this.flags.force),
      (name) => `Successfully removed ${name}`,
    );
    return results.map(({ name }) => ({ name, removed: true }));
  }
}
