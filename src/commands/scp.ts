import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

export default class Scp extends BaseCommand<typeof Scp> {
  static override summary = 'Copy files between this computer and machines, or between machines.';
  static override description =
    "Arguments are [MACHINE:]PATH, as with scp. Uses OpenSSH's scp with each machine's key and pinned host key; copies between two machines go through this computer (scp -3).";
  static override examples = [
    '<%= config.bin %> scp ./app.tar web:/tmp/',
    '<%= config.bin %> scp -r web:/etc/docker ./web-docker',
    '<%= config.bin %> scp web:/tmp/dump.sql db:/tmp/',
  ];
  static override strict = false;
  static override enableJsonFlag = false;
  static override flags = {
    recursive: Flags.boolean({ char: 'r', description: 'Copy folders recursively' }),
    quiet: Flags.boolean({ char: 'q', description: 'No progress meter' }),
  };

  async run(): Promise<void> {
    const { UsageError } = await import('../core/errors.js');
    if (this.positionals.length < 2) throw new UsageError('Usage: moor scp [-r] [MACHINE:]SRC... [MACHINE:]DST');
    const { scp } = await import('../core/scp.js');
    const sources = this.positionals.slice(0, -1);
    const destination = this.positionals.at(-1)!;
    process.exitCode = await scp(await this.moor(), sources, destination, {
      recursive: this.flags.recursive,
      quiet: this.flags.quiet,
    });
  }
}
