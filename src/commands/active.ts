import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { activeCommand } from '../cli/everyday.js';

export default class Active extends BaseCommand<typeof Active> {
  static override summary = "Print the active machine: DOCKER_HOST's, else the current docker context's.";
  static override examples = ['<%= config.bin %> active'];
  static override flags = {
    timeout: Flags.integer({ char: 't', description: "Seconds to wait for each machine's state", default: 10, min: 1 }),
  };

  async run() {
    return activeCommand(this.everyday(), this.flags);
  }
}
