import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

export default class Tunnel extends BaseCommand<typeof Tunnel> {
  static override summary = "Forward a machine's Docker socket to this computer over SSH.";
  static override description =
    "Listens on a private local socket (or a loopback port) and carries every connection to the machine's /var/run/docker.sock over one SSH connection, reconnecting when it drops. Prints the DOCKER_HOST to use, then runs until Ctrl-C. Works for every machine, and is how ssh-transport machines are used from tools that need a DOCKER_HOST.";
  static override examples = [
    '<%= config.bin %> tunnel web',
    '<%= config.bin %> tunnel web --socket /tmp/web.sock',
    '<%= config.bin %> tunnel web --port 23750',
  ];
  static override enableJsonFlag = false;
  static override args = { name: Args.string({ description: 'Machine name', required: true }) };
  static override flags = {
    socket: Flags.string({
      description: 'Local socket path (default: a private socket in the temp folder)',
      exclusive: ['port'],
    }),
    port: Flags.integer({
      description: 'Loopback TCP port instead of a socket (0: any free port)',
      min: 0,
      max: 65535,
    }),
  };

  async run(): Promise<void> {
    const moor = await this.moor();
    const tunnel = await moor.tunnel(this.args.name, {
      ...(this.flags.socket ? { socketPath: this.flags.socket } : {}),
      ...(this.flags.port !== undefined ? { port: this.flags.port } : {}),
    });
    this.log(`DOCKER_HOST=${tunnel.dockerHost}`);
    this.logToStderr(
      `Forwarding to ${this.args.name}; Ctrl-C stops. In another shell: export DOCKER_HOST=${tunnel.dockerHost}`,
    );
    const stop = () => void tunnel.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await tunnel.closed;
  }
}
