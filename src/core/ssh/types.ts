import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';

/** Where and as whom to connect. */
export interface SSHTarget {
  host: string;
  port: number;
  user: string;
  /** The private key; '' to authenticate with the SSH agent (`agent`) instead. */
  privateKeyPath: string;
  /** Path of an SSH agent's socket (SSH_AUTH_SOCK), used when privateKeyPath is ''. */
  agent?: string;
  /**
   * The pinned host key, as an OpenSSH public key line ('ssh-ed25519 AAAA...', a comment is ignored) or
   * its fingerprint ('SHA256:...'). Undefined: trust on first use, and read `session.hostKey` to pin it.
   */
  hostKey?: string;
  /** The machine's name, for messages. */
  machineName?: string;
  /** The key file the user gave, when privateKeyPath is moor's copy of it (messages name the user's). */
  keySource?: string;
  /**
   * For a host that exists already (not one still booting): how long a port that refuses connections is
   * retried before that counts as the answer (sshd not running, a wrong port). Undefined: refusals are
   * retried until the timeout, as for a host that is still starting.
   */
  refusedGraceMs?: number;
}

export interface ExecResult {
  /** The exit status; for a command killed by a signal, 128 + the signal's number, as shells report it. */
  code: number;
  /** The signal that killed the command ('SIGKILL'), if one did. */
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the command's standard input, which is then closed. Without it, stdin is closed at once. */
  stdin?: string | Buffer;
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
  /** Allocate a pseudo-terminal (stderr is then merged into stdout by the remote side). */
  pty?: boolean;
  /**
   * Variables exported for the command. Sent as `export NAME='value';` before the command, since sshd
   * accepts only the variables its AcceptEnv lists through the protocol's own env requests.
   */
  env?: Record<string, string>;
}

export interface ShellOptions {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** TERM for the remote side; default: $TERM, else xterm-256color. */
  term?: string;
  rows?: number;
  cols?: number;
}

/** One SSH connection, reused for every step of an operation; its channels are multiplexed. */
export interface SSHSession {
  /** The server's host key as seen on this connection ('ssh-ed25519 AAAA...'), to pin at create. */
  readonly hostKey: string;
  /** Runs a command. Never throws for a non-zero exit; throws a MoorError when the transport fails. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Writes a file atomically on the remote (a temporary file in the same folder, then mv), creating the
   * folder if needed. With sudo (for a user other than root), through `sudo -n`. No SFTP needed.
   */
  upload(remotePath: string, content: string | Buffer, mode: number, options?: { sudo?: boolean }): Promise<void>;
  /** A stream to a Unix socket on the remote (the Docker socket, say). */
  forwardToUnixSocket(socketPath: string): Promise<Duplex>;
  /**
   * A command's stdin and stdout as one stream (`docker system dial-stdio`, say); ending it ends the
   * command's stdin. Counts as a session channel until it closes.
   */
  execStream(command: string): Promise<Duplex>;
  /** A stream to host:port as seen from the remote. */
  forwardToTcp(host: string, port: number): Promise<Duplex>;
  /** An interactive shell on a pseudo-terminal; resolves with its exit code. */
  shell(options: ShellOptions): Promise<number>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Overall budget for waiting until SSH answers, in milliseconds; default 300 000 (5 minutes). */
  timeoutMs?: number;
  log?: Logger;
  signal?: AbortSignal;
  /**
   * Most session channels (exec, upload, shell) open at once on the connection; more wait their turn.
   * Default 8, below OpenSSH's default MaxSessions of 10. Forwarded streams are not counted.
   */
  maxChannels?: number;
  /** Interval of SSH keepalive messages in milliseconds; default 15 000. 0 disables them. */
  keepaliveIntervalMs?: number;
}
