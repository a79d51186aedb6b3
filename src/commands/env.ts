import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { envCommand } from '../cli/everyday.js';

export default class Env extends BaseCommand<typeof Env> {
  static override summary = 'Print the commands that point the Docker client at a machine.';
  static override description =
    'Prints shell commands that set DOCKER_HOST and the TLS variables for a machine, for bash/zsh/sh, fish, powershell, cmd, tcsh and emacs. If the engine does not answer yet, the commands are still printed, with a warning on stderr. For an ssh-transport machine, DOCKER_HOST is the socket of its background tunnel (started if it is not running; see moor tunnel --background).';
  static override examples = [
    'eval $(<%= config.bin %> env web)',
    '<%= config.bin %> env --shell fish web | source',
    'eval $(<%= config.bin %> env --unset)',
    'eval $(<%= config.bin %> env --no-proxy web)',
    'eval $(<%= config.bin %> env --swarm manager1)',
  ];
  static override args = { name: Args.string({ description: 'Machine name; "default" when omitted' }) };
  static override flags = {
    shell: Flags.string({
      description: 'Shell syntax: bash, zsh, sh, fish, powershell, cmd, tcsh, emacs (default: from $SHELL)',
    }),
    unset: Flags.boolean({ char: 'u', description: 'Print the commands that unset the variables instead' }),
    'no-proxy': Flags.boolean({ description: "Add the machine's IP to NO_PROXY (or no_proxy), keeping what is there" }),
    swarm: Flags.boolean({
      description: "Point at a reachable manager of NAME's swarm (NAME: a member machine or the swarm's name)",
    }),
  };

  async run() {
    return envCommand(this.everyday(), this.flags, this.args.name);
  }
}
