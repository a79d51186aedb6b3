import { BaseCommand } from '../base-command.js';
import { NAMES_ARG } from '../cli/names.js';

export default class Ip extends BaseCommand<typeof Ip> {
  static override summary = 'Print the IP address of one or more machines.';
  static override examples = ['<%= config.bin %> ip web', '<%= config.bin %> ip web db'];
  static override strict = false;
  static override args = NAMES_ARG;

  async run() {
    const names = await this.machineNames(this.positionals);
    const results = await this.eachMachine(
      (moor) => moor.ip(names),
      (_name, ip) => ip,
    );
    return results.map(({ name, result }) => ({ name, ip: result }));
  }
}
