import { BaseCommand } from '../base-command.js';
import { NAMES_ARG } from '../cli/names.js';

export default class Stop extends BaseCommand<typeof Stop> {
  static override summary = 'Stop one or more machines.';
  static override examples = ['<%= config.bin %> stop web', '<%= config.bin %> stop web db cache'];
  static override strict = false;
  static override args = NAMES_ARG;

  async run() {
    const names = await this.machineNames(this.positionals);
    const results = await this.eachMachine(
      (moor) => moor.changeState(names, 'stop'),
      () => undefined,
    );
    return results.map(({ name, result }) => ({ name, state: result }));
  }
}
