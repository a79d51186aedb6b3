import { constants } from 'node:os';
import { Args } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

export default class Docker extends BaseCommand<typeof Docker> {
  static override summary = 'Run the local docker CLI against a machine.';
  static override description =
    'Runs `docker ARGS...` with the machine as its engine: the TLS variables for tls machines; for ssh machines a private socket forwarded over one SSH connection for as long as the command runs (removed afterwards). Standard input, the terminal (-it), Ctrl-C and the exit status pass through.';
  static override examples = [
    '<%= config.bin %> docker web -- ps',
    '<%= config.bin %> docker web -- run --rm -it alpine sh',
    '<%= config.bin %> docker web -- compose up -d',
  ];
  static override strict = false;
  static override enableJsonFlag = false;
  static override args = { name: Args.string({ description: 'Machine name', required: true }) };

  async run(): Promise<void> {
    const [name, ...args] = this.positionals;
    const moor = await this.moor();
    const access = await moor.dockerAccess(name!);
    try {
      process.exitCode = await runDocker(args, access.env);
    } finally {
      await access.close();
    }
  }
}

/** The docker CLI as a child with our terminal; resolves with its exit status (128 + signal when killed). */
async function runDocker(args: string[], overrides: Record<string, string>): Promise<number> {
  const { spawn } = await import('node:child_process');
  const env = { ...process.env };
  for (const key of ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CONTEXT']) delete env[key];
  Object.assign(env, overrides);
  // Ctrl-C reaches docker through the terminal; moor waits for it to finish, then cleans up.
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn('docker', args, { stdio: 'inherit', env });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on('SIGTERM', forward);
      process.on('SIGHUP', forward);
      child.on('error', async (error: NodeJS.ErrnoException) => {
        const { MoorError } = await import('../core/errors.js');
        reject(
          error.code === 'ENOENT'
            ? new MoorError('The docker CLI was not found on PATH: moor docker runs it.', {
                code: 'DOCKER_CLI_NOT_FOUND',
                suggestions: ['Install the Docker CLI (Debian: apt-get install docker-cli or docker.io).'],
              })
            : error,
        );
      });
      child.on('exit', (code, signal) => {
        process.off('SIGTERM', forward);
        process.off('SIGHUP', forward);
        resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 1) : 1));
      });
    });
  } finally {
    process.off('SIGINT', ignore);
  }
}
