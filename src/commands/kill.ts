import { BaseCommand } from '../base-command.js';
import { NAMES_ARG } from '../cli/names.js';

export default class Kill extends BaseCommand<typeof Kill> {
  static override summary = 'Kill (force stop) one or more machines.';
  static override examples = ['<%= config.bin %> kill web', '<%= config.bin %> kill web db cache'];
  static override strict = false;
  static override args = NAMES_ARG;

  async run() {
    const names = await this.machineNames(this.positionals);
    const results = await this.eachMachine(
      (moor) => moor.changeState(names, 'kill'),
      () => undefined,
    );
    return results.map(({ name, result }) => ({ name, state: result }));
  }
}
