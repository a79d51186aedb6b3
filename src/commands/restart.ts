import { BaseCommand } from '../base-command.js';
import { NAMES_ARG } from '../cli/names.js';

export default class Restart extends BaseCommand<typeof Restart> {
  static override summary = 'Restart one or more machines.';
  static override examples = ['<%= config.bin %> restart web', '<%= config.bin %> restart web db cache'];
  static override strict = false;
  static override args = NAMES_ARG;

  async run() {
    const names = await this.machineNames(this.positionals);
    const results = await this.eachMachine(
      (moor) => moor.changeState(names, 'restart'),
      () => undefined,
    );
    return results.map(({ name, result }) => ({ name, state: result }));
  }
}
