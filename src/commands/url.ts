import { BaseCommand } from '../base-command.js';
import { NAME_ARG } from '../cli/names.js';

export default class Url extends BaseCommand<typeof Url> {
  static override summary = 'Print the Docker URL of a machine.';
  static override examples = ['<%= config.bin %> url web'];
  static override args = NAME_ARG;

  async run() {
    const [name] = await this.machineNames(this.args.name ? [this.args.name] : []);
    const url = await (await this.moor()).url(name!);
    this.log(url);
    return { name, url };
  }
}
