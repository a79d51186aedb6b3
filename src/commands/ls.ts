import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { lsCommand } from '../cli/everyday.js';

export default class Ls extends BaseCommand<typeof Ls> {
  static override summary = 'List machines.';
  static override examples = [
    '<%= config.bin %> ls',
    '<%= config.bin %> ls --filter driver=none --filter state=Running',
    '<%= config.bin %> ls --format "{{.Name}}: {{.URL}}"',
    '<%= config.bin %> ls -q --filter label=env=prod',
  ];
  static override flags = {
    filter: Flags.string({
      description:
        'Filter: driver=, state=, name= (regex), label=k=v, swarm=NAME; the same key ORs, different keys AND',
      multiple: true,
      multipleNonGreedy: true,
    }),
    quiet: Flags.boolean({ char: 'q', description: 'Print machine names only' }),
    timeout: Flags.integer({
      char: 't',
      description: "Seconds to wait for each machine's state",
      default: 10,
      min: 1,
      env: 'MOOR_LS_TIMEOUT',
    }),
    format: Flags.string({
      char: 'f',
      description: 'Go template, e.g. "table {{.Name}}\\t{{.State}}"',
      env: 'MOOR_LS_FORMAT',
    }),
  };

  async run() {
    return lsCommand(this.everyday(), this.flags);
  }
}
