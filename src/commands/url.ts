import { BaseCommand } from '../base-command.js';
import { NAME_ARG } from '../cli/names.js';
import { urlCommand } from '../cli/everyday.js';

export default class Url extends BaseCommand<typeof Url> {
  static override summary = 'Print the Docker URL of a machine.';
  static override examples = ['<%= config.bin %> url web'];
  static override args = NAME_ARG;

  async run() {
    return urlCommand(this.everyday(), this.args.name);
  }
}
