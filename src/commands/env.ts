import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

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
    const { flags } = this;
    const env = await import('../core/env.js');
    const shell = env.resolveShell(flags.shell);
    const commandLine = [this.config.bin, this.id ?? 'env', ...this.argv];
    if (flags.unset) {
      let set: { name: string; value: string }[] = [];
      const unset = [...env.DOCKER_ENV_NAMES];
      if (flags['no-proxy'] && this.args.name) {
        const [ip] = (await (await this.moor()).ip([this.args.name])).map(({ result }) => result);
        const remaining = env.noProxyWithout(ip!);
        if (remaining && remaining.value !== '') set = [remaining];
        else if (remaining) unset.push(remaining.name);
      }
      if (!this.jsonEnabled()) process.stdout.write(env.renderEnv({ shell, set, unset, commandLine }));
      return { shell, set, unset };
    }
    const [given] = await this.machineNames(this.args.name ? [this.args.name] : []);
    const name = flags.swarm ? await (await this.moor()).swarms.managerOf(given!) : given;
    const { connection, warning } = await (await this.moor()).connection(name!, true);
    const vars = env.dockerEnvVars(
      { name: name!, dockerHost: connection.url, certPath: connection.certPath, tlsVerify: connection.tlsVerify },
      flags['no-proxy'] && connection.ip ? { noProxy: env.noProxyFor(connection.ip) } : {},
    );
    // A tunnel's socket speaks plain HTTP: TLS variables left from another machine would break it.
    // (only those this shell has: some shells complain about unsetting what is not set).
    const unset = connection.tunnel
      ? ['DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH'].filter((key) => process.env[key] !== undefined)
      : [];
    if (!this.jsonEnabled()) process.stdout.write(env.renderEnv({ shell, set: vars, unset, commandLine }));
    if (warning) this.logger().warn(warning);
    if (connection.tunnel) {
      const { pid, started } = connection.tunnel;
      this.logger().info(
        `${name} uses the ssh transport: DOCKER_HOST is its background tunnel (pid ${pid}${started ? ', started now' : ''}); "moor tunnel --stop ${name}" stops it.`,
      );
    }
    return {
      shell,
      set: vars,
      unset,
      ...(connection.tunnel ? { tunnel: connection.tunnel } : {}),
      ...(warning ? { warning } : {}),
    };
  }
}
