/** SSHSession over one ssh2 connection: exec, upload, forwarding and shells share it. */
import { constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { MoorError } from '../errors.js';
import type { Logger } from '../log.js';
import { address } from './errors.js';
import { Limiter } from './limiter.js';
import { shellQuote, sudoPrefix } from './quote.js';
import type { ExecOptions, ExecResult, ShellOptions, SSHSession, SSHTarget } from './types.js';
import { abbreviate } from '../values.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CLOSE_GRACE_MS = 2_000;

export class Ssh2Session implements SSHSession {
  private closed = false;
  private closedByUs = false;
  private lostError: Error | undefined;
  private closing: Promise<void> | undefined;
  private readonly limiter: Limiter;
  private readonly where: string;

  constructor(
    private readonly client: Client,
    readonly hostKey: string,
    private readonly target: SSHTarget,
    options: { maxChannels: number; log: Logger },
  ) {
    this.limiter = new Limiter(options.maxChannels);
    this.where = address(target);
    client.on('error', (error: Error) => {
      this.lostError ??= error;
      options.log.debug(`SSH connection to ${this.where}: ${error.message}`);
    });
    client.on('close', () => {
      this.closed = true;
    });
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const full = envPrefix(options.env) + command;
    return this.limiter.run(() => this.runExec(full, options));
  }

  async upload(
    remotePath: string,
    content: string | Buffer,
    mode: number,
    options: { sudo?: boolean } = {},
  ): Promise<void> {
    if (remotePath === '') throw new MoorError('upload needs a remote path.', { code: 'SSH_UPLOAD_FAILED' });
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new RangeError(`mode must be an integer between 0 and 0o7777, got ${mode}`);
    }
    const path = shellQuote(remotePath);
    // mktemp creates the file 0600, so secrets are never readable while being written; the rename makes
    // the new content appear at once, and the trap removes the temporary file if a step fails.
    const script = [
      'set -e',
      // mv would move the file into a folder of that name instead of replacing it.
      `if [ -d ${path} ]; then echo 'it is a folder' >&2; exit 1; fi`,
      `dir=$(dirname -- ${path})`,
      'mkdir -p -- "$dir"',
      'tmp=$(mktemp "$dir/.moor-upload.XXXXXX")',
      `trap 'rm -f -- "$tmp"' EXIT`,
      'cat > "$tmp"',
      `chmod ${mode.toString(8).padStart(4, '0')} "$tmp"`,
      `mv -f -- "$tmp" ${path}`,
    ].join('\n');
    const sudo = options.sudo ? sudoPrefix(this.target.user) : '';
    const result = await this.exec(`${sudo}sh -c ${shellQuote(script)}`, { stdin: content });
    if (result.code !== 0) {
      const detail = result.stderr.trim() || `exit code ${result.code}`;
      const needsPassword = sudo !== '' && /password is required|a terminal is required/i.test(result.stderr);
      throw new MoorError(`Could not write ${remotePath} on ${this.where}: ${detail}`, {
        code: 'SSH_UPLOAD_FAILED',
        suggestions: needsPassword
          ? [`Allow "${this.target.user}" to use sudo without a password on the host (NOPASSWD in sudoers).`]
          : [],
      });
    }
  }

  forwardToUnixSocket(socketPath: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.ensureOpen();
      this.guarded('forward a socket', reject, () =>
        this.client.openssh_forwardOutStreamLocal(socketPath, (error, channel) => {
          if (!error) return resolve(channel);
          reject(
            this.lost() ??
              new MoorError(`Cannot reach ${socketPath} on ${this.where} through SSH: ${error.message}.`, {
                code: 'SSH_FORWARD_FAILED',
                cause: error,
                suggestions: [
                  `Check that ${socketPath} exists on the host and that "${this.target.user}" may open it.`,
                  'Check that sshd allows it: AllowStreamLocalForwarding yes (the default) in sshd_config.',
                ],
              }),
          );
        }),
      );
    });
  }

  execStream(command: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      // The channel holds its slot under MaxSessions for as long as it is open.
      void this.limiter
        .run(
          () =>
            new Promise<void>((release) => {
              const fail = (error: unknown) => {
                reject(error);
                release();
              };
              const lost = this.lost();
              if (lost) return fail(lost);
              this.guarded('run a command', fail, () =>
                this.client.exec(command, (error, channel) => {
                  if (error) return fail(this.channelError('run a command', error));
                  channel.stderr.resume(); // unread, it would stall the channel's window
                  channel.once('close', () => release());
                  resolve(channel);
                }),
              );
            }),
        )
        .catch(reject);
    });
  }

  forwardToTcp(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.ensureOpen();
      this.guarded('forward a port', reject, () =>
        this.client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => {
          if (!error) return resolve(channel);
          reject(
            this.lost() ??
              new MoorError(
                `Cannot reach ${address({ host, port })} from ${this.where} through SSH: ${error.message}.`,
                {
                  code: 'SSH_FORWARD_FAILED',
                  cause: error,
                  suggestions: [
                    `Check that something listens on ${address({ host, port })} as seen from the host.`,
                    'Check that sshd allows it: AllowTcpForwarding yes (the default) in sshd_config.',
                  ],
                },
              ),
          );
        }),
      );
    });
  }

  shell(options: ShellOptions): Promise<number> {
    return this.limiter.run(
      () =>
        new Promise<number>((resolve, reject) => {
          this.ensureOpen();
          const tty = options.stdout as Partial<{ rows: number; columns: number }> & NodeJS.WritableStream;
          const window = {
            term: options.term ?? process.env['TERM'] ?? 'xterm-256color',
            rows: options.rows ?? tty.rows ?? 24,
            cols: options.cols ?? tty.columns ?? 80,
          };
          this.guarded('open a shell', reject, () =>
            this.client.shell(window, (error, channel) => {
              if (error) return reject(this.channelError('open a shell', error));
              const status = trackExit(channel);
              const onResize = () => {
                if (tty.rows && tty.columns) channel.setWindow(tty.rows, tty.columns, 0, 0);
              };
              if (options.rows === undefined && options.cols === undefined) options.stdout.on('resize', onResize);
              options.stdin.pipe(channel);
              channel.on('data', (chunk: Buffer) => options.stdout.write(chunk));
              channel.stderr.on('data', (chunk: Buffer) => options.stderr.write(chunk));
              channel.on('close', () => {
                options.stdin.unpipe(channel);
                options.stdin.pause(); // pipe() resumed it: let a process whose stdin it is exit
                options.stdout.removeListener('resize', onResize);
                const result = status();
                if (result) resolve(result.code);
                else reject(this.lost() ?? this.noExitStatus('shell'));
              });
            }),
          );
        }),
    );
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closedByUs = true;
    this.closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, CLOSE_GRACE_MS);
      timer.unref();
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
    return this.closing;
  }

  private runExec(command: string, options: ExecOptions): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.ensureOpen();
      this.guarded('run a command', reject, () =>
        this.client.exec(command, options.pty ? { pty: true } : {}, (error, channel) => {
          if (error) return reject(this.channelError('run a command', error));
          const status = trackExit(channel);
          const stdout: Buffer[] = [];
          const stderr: Buffer[] = [];
          let callbackError: unknown;
          const guard = (callback: ((chunk: Buffer) => void) | undefined, chunk: Buffer) => {
            if (!callback || callbackError !== undefined) return;
            try {
              callback(chunk);
            } catch (thrown) {
              callbackError = thrown;
              channel.close();
            }
          };
          channel.on('data', (chunk: Buffer) => {
            stdout.push(chunk);
            guard(options.onStdout, chunk);
          });
          channel.stderr.on('data', (chunk: Buffer) => {
            stderr.push(chunk);
            guard(options.onStderr, chunk);
          });
          channel.on('close', () => {
            if (callbackError !== undefined) return reject(callbackError);
            const result = status();
            if (!result) return reject(this.lost() ?? this.noExitStatus(`"${abbreviate(command, 60)}"`));
            resolve({
              ...result,
              stdout: Buffer.concat(stdout).toString('utf8'),
              stderr: Buffer.concat(stderr).toString('utf8'),
            });
          });
          if (options.stdin !== undefined) channel.end(options.stdin);
          else channel.end();
        }),
      );
    });
  }

  /** Runs an ssh2 call that throws ("Not connected") when the socket has just gone. */
  private guarded(what: string, reject: (error: unknown) => void, call: () => void): void {
    try {
      call();
    } catch (error) {
      reject(this.channelError(what, error instanceof Error ? error : new Error(String(error))));
    }
  }

  private ensureOpen(): void {
    const lost = this.lost();
    if (lost) throw lost;
  }

  /** The error to report when the connection is gone, else undefined. */
  private lost(): MoorError | undefined {
    if (!this.closed) return undefined;
    const message = this.closedByUs
      ? `The SSH connection to ${this.where} is closed.`
      : `The SSH connection to ${this.where} was lost${this.lostError ? `: ${this.lostError.message}` : ' (closed by the server or the network)'}.`;
    return new MoorError(message, { code: 'SSH_CONNECTION_LOST', cause: this.lostError });
  }

  private channelError(what: string, error: Error): MoorError {
    return (
      this.lost() ??
      new MoorError(`Could not ${what} on ${this.where} over SSH: ${error.message}.`, {
        code: 'SSH_CHANNEL_FAILED',
        cause: error,
      })
    );
  }

  private noExitStatus(what: string): MoorError {
    return new MoorError(`${what} on ${this.where} ended without an exit status.`, { code: 'SSH_CONNECTION_LOST' });
  }
}

/** Records a channel's exit status or signal; the returned function reads it (undefined: none came). */
function trackExit(channel: ClientChannel): () => { code: number; signal?: string } | undefined {
  let result: { code: number; signal?: string } | undefined;
  channel.on('exit', (code: number | null, signal?: string) => {
    if (typeof code === 'number') result = { code };
    else if (signal) result = { code: signalExitCode(signal), signal };
  });
  return () => result;
}

/** 128 + the signal's number, as a shell reports a command killed by it; 255 for an unknown signal. */
function signalExitCode(signal: string): number {
  const number = (osConstants.signals as Record<string, number | undefined>)[signal];
  return number === undefined ? 255 : 128 + number;
}

function envPrefix(env: Record<string, string> | undefined): string {
  if (!env) return '';
  const assignments = Object.entries(env).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw new RangeError(`Invalid environment variable name "${name}"`);
    return `${name}=${shellQuote(value)}`;
  });
  return assignments.length ? `export ${assignments.join(' ')}; ` : '';
}
