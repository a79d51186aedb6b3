import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { inspectCommand } from '../cli/everyday.js';

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
    return inspectCommand(this.everyday(), this.flags, this.args.name);
  }
}
