/**
 * A local endpoint for a remote Unix socket (the Docker engine's /var/run/docker.sock) over SSH: a Unix
 * socket (mode 0600) or a port on 127.0.0.1 that forwards every client connection as a channel of its own
 * (direct-streamlocal) over ONE SSH connection. A dropped connection is replaced on demand, with
 * exponential backoff and jitter; clients that arrive meanwhile wait for it.
 */
import { chmod, lstat, rm, stat } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { dirname, resolve as resolvePath } from 'node:path';
import type { Duplex } from 'node:stream';
import { resolveEngineAccess, type EngineAccess } from './docker/remote.js';
import { MoorError, messageOf, TimeoutError } from './errors.js';
import { isErrno } from './fsutil.js';
import { silentLogger, type Logger } from './log.js';
import { backoffDelay, formatDuration, sleep } from './wait.js';
import { connect, HostKeyChangedError, SSHAuthError, type SSHSession, type SSHTarget } from './ssh/index.js';

export interface TunnelOptions {
  target: SSHTarget;
  /**
   * The engine's socket on the host. Default /var/run/docker.sock, or a rootless engine's socket when
   * that one is missing; when no channel to it opens, `docker system dial-stdio` (through sudo for a user
   * outside the docker group) carries the connections instead (see resolveEngineAccess).
   */
  remoteSocket?: string;
  /**
   * Where to listen: a Unix socket (created 0600; its folder should be private to the user, 0700) or a
   * TCP port on 127.0.0.1 only (0: pick a free one).
   */
  listen: { socketPath: string } | { port: number };
  log?: Logger;
  /** Budget for the first connection and for each reconnection, in milliseconds; default 30 000. */
  connectTimeoutMs?: number;
}

export interface TunnelStats {
  /** Client connections accepted so far. */
  clients: number;
  /** Client connections open now. */
  active: number;
  /** SSH connections made to replace a lost one. */
  reconnects: number;
}

export interface Tunnel {
  /** The DOCKER_HOST value for this tunnel: unix:///absolute/path or tcp://127.0.0.1:PORT. */
  readonly dockerHost: string;
  /** A snapshot of the counters. */
  readonly stats: TunnelStats;
  /** Stops listening, ends the clients' streams, closes SSH and removes the socket file. Idempotent. */
  close(): Promise<void>;
  /**
   * Settles once the tunnel is closed: resolves after close(), rejects with the error that stopped the
   * tunnel otherwise (HostKeyChangedError or SSHAuthError while reconnecting, say). Not awaiting it is safe.
   */
  closed: Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** The longest pause between reconnection rounds (the first is 250 ms, doubling per failed round). */
const RECONNECT_MAX_DELAY_MS = 10_000;
/** Limit for checking whether something listens on an existing socket file. */
const PROBE_TIMEOUT_MS = 2_000;
const LOOPBACK = '127.0.0.1';
/** sun_path holds 108 bytes on Linux, 104 on macOS and the BSDs, both with the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/**
 * Connects over SSH (failing with the SSH layer's errors: TimeoutError, HostKeyChangedError, SSHAuthError),
 * checks that the remote socket answers, then listens. Resolves once clients can connect.
 */
export async function startTunnel(options: TunnelOptions): Promise<Tunnel> {
  const log = options.log ?? silentLogger;
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`connectTimeoutMs must be a positive number, got ${timeoutMs}`);
  }
  const listen = checkListen(options.listen);
  const session = await connect(options.target, { timeoutMs, log });
  try {
    // Once, at start: a missing socket or a user without access fails here, in words, not per client.
    const access = await resolveEngineAccess(session, {
      ...(options.remoteSocket ? { socket: options.remoteSocket } : {}),
      user: options.target.user,
      where: `${options.target.host}:${options.target.port}`,
    });
    const listener = 'socketPath' in listen ? await listenUnix(listen.socketPath) : await listenTcp(listen.port);
    // Reconnections must meet the same server: pin the key this connection saw (trust on first use).
    const target = { ...options.target, hostKey: options.target.hostKey ?? session.hostKey };
    const tunnel = new SshTunnel(session, listener, { target, access, log, timeoutMs });
    log.debug(`Tunnel ${tunnel.dockerHost} -> ${access.description} on ${target.host}:${target.port}`);
    return tunnel;
  } catch (error) {
    await session.close();
    throw error;
  }
}

interface Listener {
  server: Server;
  dockerHost: string;
  /** The socket file and its identity, to remove it at close only if it is still ours. */
  socketFile?: { path: string; dev: number; ino: number };
}

interface Client {
  socket: Socket;
  channel: Duplex | undefined;
}

interface Settings {
  target: SSHTarget;
  access: EngineAccess;
  log: Logger;
  timeoutMs: number;
}

class SshTunnel implements Tunnel {
  readonly dockerHost: string;
  readonly closed: Promise<void>;
  private session: SSHSession | undefined;
  private reconnecting: Promise<SSHSession> | undefined;
  /** Reconnection rounds since a channel last opened: the exponent of the backoff before the next one. */
  private failures = 0;
  private readonly counts: TunnelStats = { clients: 0, active: 0, reconnects: 0 };
  private readonly clients = new Set<Client>();
  /** Rejecters of the clients waiting for a connection or a channel, called at shutdown. */
  private readonly waiters = new Set<(error: Error) => void>();
  /** Aborts a connection attempt or a backoff in progress at shutdown. */
  private readonly abort = new AbortController();
  private stopping: Promise<void> | undefined;
  private settleClosed!: (error?: Error) => void;

  constructor(
    session: SSHSession,
    private readonly listener: Listener,
    private readonly settings: Settings,
  ) {
    this.session = session;
    this.dockerHost = listener.dockerHost;
    this.closed = new Promise<void>((resolve, reject) => {
      this.settleClosed = (error) => (error ? reject(error) : resolve());
    });
    this.closed.catch(() => {}); // handled here: whoever awaits it still sees the rejection
    listener.server.on('connection', (socket: Socket) => this.accept(socket));
    listener.server.on('error', (error: Error) => settings.log.warn(`Tunnel ${this.dockerHost}: ${error.message}`));
  }

  get stats(): TunnelStats {
    return { ...this.counts };
  }

  close(): Promise<void> {
    return this.shutdown(undefined);
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const client: Client = { socket, channel: undefined };
    this.clients.add(client);
    this.counts.clients += 1;
    this.counts.active += 1;
    socket.on('error', (error: Error) => this.settings.log.debug(`Tunnel client: ${error.message}`));
    socket.once('close', () => {
      this.clients.delete(client);
      this.counts.active -= 1;
      client.channel?.destroy();
    });
    this.openChannel().then(
      (channel) => this.bridge(client, channel),
      (error: unknown) => {
        if (!this.stopping) this.settings.log.warn(`Tunnel ${this.dockerHost}: ${messageOf(error)}`);
        socket.destroy();
      },
    );
  }

  /** Pipes both ways. Each side's end is passed on (half-close); an error or abrupt close ends both. */
  private bridge(client: Client, channel: Duplex): void {
    const { socket } = client;
    if (socket.destroyed || this.stopping) {
      channel.destroy();
      return;
    }
    client.channel = channel;
    channel.on('error', (error: Error) => {
      this.settings.log.debug(`Tunnel channel to ${this.settings.access.description}: ${error.message}`);
      socket.destroy();
    });
    // The channel closes once both sides sent EOF, or when the connection is gone: nothing more can pass.
    // Let what the client has not read yet reach it, then close its socket.
    channel.once('close', () => {
      socket.unpipe(channel);
      if (socket.destroyed) return;
      if (!socket.writableEnded) socket.end();
      if (socket.writableFinished) socket.destroy();
      else socket.once('finish', () => socket.destroy());
    });
    socket.pipe(channel);
    channel.pipe(socket);
  }

  /**
   * A channel to the remote socket, on the current connection or, when it is gone, on a new one. Retries
   * on connections lost under it until the client's budget (connectTimeoutMs) runs out.
   */
  private async openChannel(): Promise<Duplex> {
    const { access, timeoutMs, target } = this.settings;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const session = await this.currentSession(deadline);
      try {
        const channel = await this.wait(
          access.open(session),
          deadline,
          () =>
            new TimeoutError(
              `Timed out after ${formatDuration(timeoutMs)} opening a channel to ${access.description} on ${target.host}:${target.port}.`,
            ),
          (late) => late.destroy(),
        );
        this.failures = 0;
        return channel;
      } catch (error) {
        if (!isConnectionLost(error)) throw error;
        this.lost(session, error);
        if (Date.now() >= deadline) throw error;
      }
    }
  }

  /** The open connection, or the one being made; starts a reconnection if there is neither. */
  private currentSession(deadline: number): Promise<SSHSession> {
    if (this.stopping) return Promise.reject(this.closedError());
    if (this.session) return Promise.resolve(this.session);
    const { target, timeoutMs } = this.settings;
    return this.wait(
      this.startReconnecting(),
      deadline,
      () =>
        new TimeoutError(
          `Timed out after ${formatDuration(timeoutMs)} waiting for the SSH connection to ${target.host}:${target.port} to come back.`,
          ['Check that the host is running and reachable over SSH.'],
        ),
    );
  }

  /** Forgets a connection that failed (once, whoever notices first) and starts replacing it. */
  private lost(session: SSHSession, error: unknown): void {
    if (this.session !== session) return;
    this.session = undefined;
    void session.close().catch(() => {});
    if (this.stopping) return;
    this.settings.log.warn(`${messageOf(error)} Reconnecting...`);
    this.startReconnecting();
  }

  private startReconnecting(): Promise<SSHSession> {
    if (!this.reconnecting) {
      this.reconnecting = this.reconnect();
      this.reconnecting.catch(() => {}); // its waiters handle the failure, if any
    }
    return this.reconnecting;
  }

  /**
   * One reconnection round: a backoff that grows with the rounds that did not give a working channel
   * (none before the first), then connect() with its own retries for up to connectTimeoutMs. A host key
   * change or a refused login stops the tunnel; other failures fail the waiting clients only.
   */
  private async reconnect(): Promise<SSHSession> {
    const { log, target, timeoutMs } = this.settings;
    // Both assignments of `reconnecting` below run after an await, so after startReconnecting stored it.
    try {
      const delay = this.failures === 0 ? 0 : backoffDelay(this.failures, { maxDelayMs: RECONNECT_MAX_DELAY_MS });
      this.failures += 1;
      if (delay > 0) {
        log.debug(`Reconnecting over SSH in ${delay} ms (round ${this.failures})`);
        await sleep(delay, this.abort.signal); // an abort (shutdown) rejects: the catch below reports it
      }
      const quiet: Logger = {
        step: (message) => log.debug(message),
        info: (message) => log.info(message),
        warn: (message) => log.warn(message),
        debug: (message) => log.debug(message),
      };
      const session = await connect(target, { timeoutMs, log: quiet, signal: this.abort.signal });
      if (this.stopping) {
        await session.close();
        throw this.closedError();
      }
      this.reconnecting = undefined;
      this.session = session;
      this.counts.reconnects += 1;
      log.info(`Reconnected to ${target.host}:${target.port} over SSH.`);
      return session;
    } catch (error) {
      this.reconnecting = undefined;
      if (this.stopping) throw this.closedError();
      if (isFatal(error)) void this.shutdown(error as Error);
      throw error;
    }
  }

  /**
   * Waits for `promise` until `deadline` (then rejects with timeout()) or the shutdown; a value that
   * arrives too late goes to `discard`.
   */
  private wait<T>(
    promise: Promise<T>,
    deadline: number,
    timeout: () => Error,
    discard: (value: T) => void = () => {},
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        clearTimeout(timer);
        this.waiters.delete(onShutdown);
        return true;
      };
      const onShutdown = (error: Error) => finish() && reject(error);
      const timer = setTimeout(() => finish() && reject(timeout()), Math.max(0, deadline - Date.now()));
      this.waiters.add(onShutdown);
      promise.then(
        (value) => (finish() ? resolve(value) : discard(value)),
        (error: unknown) => finish() && reject(error),
      );
    });
  }

  private shutdown(error: Error | undefined): Promise<void> {
    this.stopping ??= (async () => {
      const { log } = this.settings;
      if (error) log.warn(`Tunnel ${this.dockerHost} stopped: ${error.message}`);
      this.abort.abort();
      const stopped = error ?? this.closedError();
      for (const reject of [...this.waiters]) reject(stopped);
      const { server, socketFile } = this.listener;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const client of this.clients) {
        client.channel?.destroy();
        client.socket.destroy();
      }
      const session = this.session;
      this.session = undefined;
      await Promise.allSettled([serverClosed, session?.close(), this.reconnecting]);
      if (socketFile) await removeIfOurs(socketFile);
      this.settleClosed(error);
    })();
    return this.stopping;
  }

  private closedError(): MoorError {
    return new MoorError(`The tunnel ${this.dockerHost} is closed.`, { code: 'TUNNEL_CLOSED' });
  }
}

function checkListen(listen: TunnelOptions['listen']): { socketPath: string } | { port: number } {
  if ('socketPath' in listen) {
    const socketPath = resolvePath(listen.socketPath);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new MoorError(
        `The socket path ${socketPath} is too long for a Unix socket (at most ${MAX_SOCKET_PATH_BYTES} bytes).`,
        { code: 'TUNNEL_SOCKET_PATH_TOO_LONG', suggestions: ['Pick a shorter path, or listen on a TCP port.'] },
      );
    }
    return { socketPath };
  }
  if (!Number.isInteger(listen.port) || listen.port < 0 || listen.port > 65_535) {
    throw new RangeError(`port must be an integer between 0 and 65535, got ${listen.port}`);
  }
  return { port: listen.port };
}

/** Listens on a Unix socket: a stale file from a dead process is replaced, a live listener refused. */
async function listenUnix(path: string): Promise<Listener> {
  await removeStaleSocket(path);
  const server = newServer();
  try {
    await listenOn(server, path);
  } catch (error) {
    if (isErrno(error, 'EADDRINUSE')) throw inUse(path); // another process won the race since the check
    if (isErrno(error, 'ENOENT', 'EACCES')) {
      throw new MoorError(`Cannot create the socket ${path}: ${messageOf(error)}.`, {
        code: 'TUNNEL_LISTEN_FAILED',
        cause: error,
        suggestions: [`Check that the folder ${dirname(path)} exists and that you may write in it.`],
      });
    }
    throw error;
  }
  try {
    // The folder should keep others out already; 0600 also keeps them from connecting.
    await chmod(path, 0o600);
    const { dev, ino } = await stat(path);
    return { server, dockerHost: `unix://${path}`, socketFile: { path, dev, ino } };
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(path, { force: true });
    throw error;
  }
}

async function listenTcp(port: number): Promise<Listener> {
  const server = newServer();
  try {
    await listenOn(server, { port, host: LOOPBACK });
  } catch (error) {
    if (isErrno(error, 'EADDRINUSE', 'EACCES')) {
      const taken = isErrno(error, 'EADDRINUSE');
      throw new MoorError(
        taken ? `Port ${port} on ${LOOPBACK} is already in use.` : `Not allowed to listen on port ${port}.`,
        {
          code: taken ? 'TUNNEL_PORT_IN_USE' : 'TUNNEL_LISTEN_FAILED',
          cause: error,
          suggestions: ['Pick another port, or 0 for any free one.'],
        },
      );
    }
    throw error;
  }
  const { port: bound } = server.address() as AddressInfo;
  return { server, dockerHost: `tcp://${LOOPBACK}:${bound}` };
}

function newServer(): Server {
  // allowHalfOpen: a client that ends its side still gets the answer. pauseOnConnect: nothing is read
  // before the channel is there to take it.
  return createServer({ allowHalfOpen: true, pauseOnConnect: true });
}

function listenOn(server: Server, where: string | { port: number; host: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.removeListener('error', reject);
      resolve();
    };
    if (typeof where === 'string') server.listen(where, onListening);
    else server.listen(where, onListening);
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  if (!info.isSocket()) {
    throw new MoorError(`${path} exists and is not a socket; not replacing it.`, {
      code: 'TUNNEL_PATH_EXISTS',
      suggestions: ['Pick another socket path, or remove that file if you know it is not needed.'],
    });
  }
  if (await somethingListens(path)) throw inUse(path);
  await rm(path, { force: true });
}

function inUse(path: string): MoorError {
  return new MoorError(`Another process listens on ${path}.`, {
    code: 'TUNNEL_SOCKET_IN_USE',
    suggestions: ['Stop the other tunnel first (is "moor tunnel" running already?), or pick another socket path.'],
  });
}

/** Whether a connection to the socket file is accepted: refused (or gone) means a dead listener's file. */
function somethingListens(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const done = (result: boolean | Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    // No answer in time: a live process with a full backlog, most likely.
    const timer = setTimeout(() => done(true), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done(true));
    socket.once('error', (error: Error) => {
      if (isErrno(error, 'ECONNREFUSED', 'ENOENT')) done(false);
      else if (isErrno(error, 'EAGAIN')) done(true);
      else
        done(
          new MoorError(`Cannot check ${path}: ${error.message}.`, {
            code: 'TUNNEL_LISTEN_FAILED',
            cause: error,
            suggestions: ['Pick another socket path.'],
          }),
        );
    });
  });
}

/** Removes the socket file unless something else has replaced it since. */
async function removeIfOurs(file: { path: string; dev: number; ino: number }): Promise<void> {
  try {
    const now = await lstat(file.path);
    if (now.dev === file.dev && now.ino === file.ino) await rm(file.path, { force: true });
  } catch {
    // gone already (Node removes it when the server closes)
  }
}

/** A failure of the connection under a channel (rather than of the channel itself): worth a new one. */
function isConnectionLost(error: unknown): boolean {
  return error instanceof MoorError && (error.code === 'SSH_CONNECTION_LOST' || error.code === 'SSH_CHANNEL_FAILED');
}

/** Failures that another attempt would repeat, and that a user must look at. */
function isFatal(error: unknown): boolean {
  return (
    error instanceof HostKeyChangedError ||
    error instanceof SSHAuthError ||
    (error instanceof MoorError && error.code.startsWith('SSH_KEY_'))
  );
}
