import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

export default class Inspect extends BaseCommand<typeof Inspect> {
  static override summary = 'Show everything moor knows about a machine, as JSON.';
  static override examples = [
    '<%= config.bin %> inspect web',
    '<%= config.bin %> inspect --format "{{.Driver.IPAddress}}" web',
    '<%= config.bin %> inspect --format "{{json .HostOptions.EngineOptions}}" web',
  ];
  static override args = { name: Args.string({ description: 'Machine name (default: "default")' }) };
  static override flags = {
    format: Flags.string({
      char: 'f',
      description: 'Go template applied to the record (json and prettyjson functions)',
    }),
  };

  async run() {
    const [name] = await this.machineNames(this.args.name ? [this.args.name] : []);
    const moor = await this.moor();
    const view = await moor.inspect(name!);
    if (!this.jsonEnabled()) {
      if (this.flags.format) {
        const { compileTemplate } = await import('../core/format/index.js');
        this.log(compileTemplate(this.flags.format).render(view));
      } else {
        this.log(JSON.stringify(view, null, 4));
      }
    }
    return view;
  }
}
