import { Args } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from '../cli/completion.js';

export default class Completion extends BaseCommand<typeof Completion> {
  static override summary = 'Print the shell completion script for bash, zsh or fish.';
  static override description =
    'Commands, their flags (driver flags included), fixed flag values, driver names and, at completion time, machine names (from "moor ls -q").';
  static override examples = [
    'source <(<%= config.bin %> completion bash)',
    '<%= config.bin %> completion bash > ~/.local/share/bash-completion/completions/moor',
    '<%= config.bin %> completion zsh > "${fpath[1]}/_moor"',
    '<%= config.bin %> completion fish > ~/.config/fish/completions/moor.fish',
  ];
  static override args = {
    shell: Args.string({ description: 'bash, zsh or fish', required: true, options: [...COMPLETION_SHELLS] }),
  };

  async run() {
    const { driverNames } = await import('../../drivers/registry.js');
    const script = completionScript(this.args.shell as CompletionShell, {
      drivers: driverNames(),
      commands: this.config.commands
        .filter((command) => !command.hidden)
        .map((command) => {
          const args = Object.keys(command.args ?? {});
          return {
            id: command.id,
            summary: command.summary ?? '',
            machines: command.id !== 'create' && (args.includes('name') || args.includes('names')),
            flags: Object.values(command.flags ?? {})
              .filter((flag) => !flag.hidden)
              .map((flag) => ({
                name: flag.name,
                char: flag.char,
                description: flag.summary ?? flag.description ?? '',
                takesValue: flag.type === 'option',
                options: flag.type === 'option' && flag.options ? [...flag.options] : undefined,
              })),
          };
        })
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    });
    if (!this.jsonEnabled()) process.stdout.write(script);
    return { shell: this.args.shell, script };
  }
}
