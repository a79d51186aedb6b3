import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

export default class Tunnel extends BaseCommand<typeof Tunnel> {
  static override summary = "Forward a machine's Docker socket to this computer over SSH.";
  static override description =
    "Listens on a private local socket (or a loopback port) and carries every connection to the machine's /var/run/docker.sock over one SSH connection, reconnecting when it drops. Prints the DOCKER_HOST to use, then runs until Ctrl-C. With --background it runs detached (one per machine, shown in the TUNNEL column of moor ls, reused by moor docker, env and use) until moor tunnel --stop. Works for every machine, and is how ssh-transport machines are used from tools that need a DOCKER_HOST.";
  static override examples = [
    '<%= config.bin %> tunnel web',
    '<%= config.bin %> tunnel web --socket /tmp/web.sock',
    '<%= config.bin %> tunnel web --port 23750',
    'export DOCKER_HOST=$(<%= config.bin %> tunnel --background web)',
    '<%= config.bin %> tunnel --stop web',
  ];
  static override args = { name: Args.string({ description: 'Machine name', required: true }) };
  static override flags = {
    socket: Flags.string({
      description:
        "Local socket path (default: docker.sock in the machine's folder, or a private folder in the temp folder when that path is too long)",
      exclusive: ['port'],
    }),
    port: Flags.integer({
      description: 'Loopback TCP port instead of a socket (0: any free port)',
      min: 0,
      max: 65535,
    }),
    background: Flags.boolean({
      char: 'b',
      description: 'Run detached; print the DOCKER_HOST once it listens (an already running one is reused)',
      exclusive: ['stop'],
    }),
    stop: Flags.boolean({ description: "Stop the machine's background tunnel", exclusive: ['socket', 'port'] }),
    // The process that --background starts: records itself in the machine's folder while it runs.
    detached: Flags.boolean({ hidden: true }),
  };

  async run(): Promise<{ name: string; dockerHost: string; pid: number; started?: boolean; stopped?: boolean } | void> {
    const { flags, args } = this;
    const moor = await this.moor();
    const listen = {
      ...(flags.socket ? { socketPath: flags.socket } : {}),
      ...(flags.port !== undefined ? { port: flags.port } : {}),
    };
    if (flags.stop) {
      const stopped = await moor.stopTunnel(args.name);
      this.logToStderr(`Stopped the background tunnel to ${args.name} (pid ${stopped.Pid}, ${stopped.DockerHost}).`);
      return { name: args.name, dockerHost: stopped.DockerHost, pid: stopped.Pid, stopped: true };
    }
    if (flags.background) {
      const tunnel = await moor.backgroundTunnel(args.name, listen);
      if (!this.jsonEnabled()) this.log(tunnel.dockerHost);
      this.logToStderr(
        `${tunnel.started ? 'Started' : 'Reusing'} the background tunnel to ${args.name} (pid ${tunnel.pid}); "moor tunnel --stop ${args.name}" stops it.`,
      );
      return { name: args.name, dockerHost: tunnel.dockerHost, pid: tunnel.pid, started: tunnel.started };
    }
    if (this.jsonEnabled()) {
      const { UsageError } = await import('../core/errors.js');
      throw new UsageError('--json goes with --background or --stop (a tunnel in the foreground prints as it runs).');
    }
    const tunnel = await moor.tunnel(args.name, listen, { detached: flags.detached });
    this.log(`DOCKER_HOST=${tunnel.dockerHost}`);
    this.logToStderr(
      `Forwarding to ${args.name}; Ctrl-C stops. In another shell: export DOCKER_HOST=${tunnel.dockerHost}`,
    );
    const stop = () => void tunnel.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.once('SIGHUP', stop);
    await tunnel.closed;
  }
}
