import { BaseCommand } from '../base-command.js';
import { NAMES_ARG } from '../cli/names.js';

export default class Status extends BaseCommand<typeof Status> {
  static override summary = 'Print the state of one or more machines.';
  static override examples = ['<%= config.bin %> status web', '<%= config.bin %> status web db'];
  static override strict = false;
  static override args = NAMES_ARG;

  async run() {
    const names = await this.machineNames(this.positionals);
    const results = await this.eachMachine(
      (moor) => moor.status(names),
      (_name, state) => state,
    );
    return results.map(({ name, result }) => ({ name, state: result }));
  }
}
