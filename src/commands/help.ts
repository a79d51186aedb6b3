import { Args, Command, loadHelpClass } from '@oclif/core';

export default class HelpCommand extends Command {
  static override summary = 'Show help for moor or for one command.';
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help create'];
  static override strict = false;
  static override args = { command: Args.string({ description: 'Command to show help for', ignoreStdin: true }) };

  async run(): Promise<void> {
    const { argv } = await this.parse(HelpCommand);
    const Help = await loadHelpClass(this.config);
    await new Help(this.config, { all: false }).showHelp(argv as string[]);
  }
}
