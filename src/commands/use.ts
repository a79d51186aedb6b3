import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

export default class Use extends BaseCommand<typeof Use> {
  static override summary = "Make a machine the docker CLI's current environment (a docker context).";
  static override description =
    "Creates or updates the docker context moor-NAME (in $DOCKER_CONFIG or ~/.docker, TLS certificates included) and makes it current, so every docker command, and tools that follow the docker CLI's context, talk to the machine without environment variables. For an ssh-transport machine the context points at the machine's background tunnel (started if needed). --unset goes back to the context that was current before.";
  static override examples = [
    '<%= config.bin %> use web',
    'docker --context moor-web ps',
    '<%= config.bin %> use --unset',
    '<%= config.bin %> use --swarm manager1',
  ];
  static override args = { name: Args.string({ description: 'Machine name' }) };
  static override flags = {
    unset: Flags.boolean({ char: 'u', description: 'Go back to the docker context that was current before' }),
    swarm: Flags.boolean({
      description: "Use a reachable manager of NAME's swarm (NAME: a member machine or the swarm's name)",
    }),
  };

  async run() {
    const moor = await this.moor();
    if (this.flags.unset) {
      const context = await moor.unuse();
      this.log(`Current docker context: ${context}`);
      return { context };
    }
    const [given] = await this.machineNames(this.args.name ? [this.args.name] : []);
    const name = this.flags.swarm ? await moor.swarms.managerOf(given!) : given;
    const result = await moor.use(name!);
    this.log(`Current docker context: ${result.context}`);
    if (result.tunnel) {
      this.logger().info(
        `${name} uses the ssh transport: the context points at its background tunnel (pid ${result.tunnel.pid}); after "moor tunnel --stop ${name}" or a reboot, run "moor use ${name}" again.`,
      );
    }
    if (process.env['DOCKER_HOST']) {
      this.logger().warn(
        'DOCKER_HOST is set in this shell and wins over the current context: run "eval $(moor env --unset)".',
      );
    }
    return result;
  }
}
