import { BaseCommand } from '../base-command.js';
import { NAME_ARG } from '../cli/names.js';

export default class Config extends BaseCommand<typeof Config> {
  static override summary = 'Print the docker CLI flags that connect to a machine.';
  static override examples = ['<%= config.bin %> config web', 'docker $(<%= config.bin %> config web) ps'];
  static override args = NAME_ARG;

  async run() {
    const [name] = await this.machineNames(this.args.name ? [this.args.name] : []);
    const { connection, warning } = await (await this.moor()).connection(name!, true);
    const { join } = await import('node:path');
    const flags = connection.tlsVerify
      ? [
          '--tlsverify',
          `--tlscacert=${JSON.stringify(join(connection.certPath, 'ca.pem'))}`,
          `--tlscert=${JSON.stringify(join(connection.certPath, 'cert.pem'))}`,
          `--tlskey=${JSON.stringify(join(connection.certPath, 'key.pem'))}`,
          `-H=${connection.url}`,
        ]
      : [`-H=${connection.url}`];
    this.log(flags.join('\n'));
    if (warning) this.logger().warn(warning);
    return { name, flags, ...(warning ? { warning } : {}) };
  }
}
