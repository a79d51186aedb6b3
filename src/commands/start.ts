import { BaseCommand } from '../base-command.js';
import { NAMES_ARG } from '../cli/names.js';

export default class Start extends BaseCommand<typeof Start> {
  static override summary = 'Start one or more machines.';
  static override examples = ['<%= config.bin %> start web', '<%= config.bin %> start web db cache'];
  static override strict = false;
  static override args = NAMES_ARG;

  async run() {
    const names = await this.machineNames(this.positionals);
    const results = await this.eachMachine(
      (moor) => moor.changeState(names, 'start'),
      () => undefined,
    );
    return results.map(({ name, result }) => ({ name, state: result }));
  }
}
