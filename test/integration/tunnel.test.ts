/**
 * The SSH tunnel (src/core/tunnel.ts) against a real OpenSSH server (test/helpers/sshd.ts) on 127.0.0.1,
 * with a node:http server on a Unix socket standing in for the Docker engine's socket. Needs Debian's
 * openssh-server; without it these tests are skipped, except in CI where they fail.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, get, type RequestOptions, type Server as HttpServer } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MoorError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/log.js';
import type { SSHTarget } from '../../src/core/ssh/index.js';
import { startTunnel, type Tunnel, type TunnelOptions } from '../../src/core/tunnel.js';
import { skipOutsideCI } from '../helpers/prerequisites.js';
import { LOOPBACK, type SshdHandle, sshdMissingReason, startSshd } from '../helpers/sshd.js';

const missing = sshdMissingReason();
// CI installs openssh-server: there a missing sshd fails the suite (startSshd says what to install).
const skip = skipOutsideCI(missing);
/** Timeouts that only turn a hang into a failure: far above what the tests take on a loaded machine. */
const HANG_MS = 600_000;

function targetOf(sshd: SshdHandle): SSHTarget {
  return { host: LOOPBACK, port: sshd.port, user: sshd.user, privateKeyPath: sshd.clientKeyPath };
}

function recordingLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, step() {}, info: (m) => infos.push(m), warn: (m) => warnings.push(m), debug() {} };
}

/** SSH logins the server accepted so far (sshd logs each at LogLevel INFO). */
function logins(sshd: SshdHandle): number {
  return sshd.log().match(/Accepted publickey for /g)?.length ?? 0;
}

/** An HTTP server on a Unix socket that answers like the Docker engine: /_ping and /version. */
async function fakeDocker(socketPath: string): Promise<{ server: HttpServer; requests: () => number }> {
  let requests = 0;
  const server = createHttpServer((request, response) => {
    requests += 1;
    if (request.url === '/_ping') {
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
    } else if (request.url === '/version') {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ Version: '27.0.0-test', ApiVersion: '1.46' }));
    } else {
      response.writeHead(404).end();
    }
  });
  await listen(server, socketPath);
  return { server, requests: () => requests };
}

/** A server that sends back what it receives, and ends its side after the client ended its own. */
async function echoServer(socketPath: string): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket));
  await listen(server, socketPath);
  return server;
}

function listen(server: Server | HttpServer, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One HTTP GET on a new connection (no keep-alive), through a Unix socket or a TCP port. */
function request(
  where: { socketPath: string } | { port: number },
  path: string,
): Promise<{ status: number; body: string }> {
  const options: RequestOptions = { path, agent: false, ...('port' in where ? { host: LOOPBACK } : {}), ...where };
  return new Promise((resolve, reject) => {
    get(options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

/** A raw connection to a Unix socket, connected. */
function dial(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path: socketPath, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Writes `data`, and reads until `length` bytes came back. */
function exchange(socket: Socket, data: Buffer, length = data.length): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= length) {
        socket.removeListener('data', onData);
        socket.removeListener('error', reject);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(data);
  });
}

/** Resolves once `socket` is closed, with what it received meanwhile; ends our side after the other's. */
function closedWith(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
    socket.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

async function rejection(promise: Promise<unknown>, code: string): Promise<MoorError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof MoorError, `expected a MoorError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a MoorError ${code}, but it resolved`);
}

/**
 * Waits until `condition` holds (the tunnel sees a client go a moment after the client saw its answer; it
 * has no event for it). Only a hang guard bounds the wait: a loaded machine may take long.
 */
async function eventually(condition: () => boolean, what: () => string): Promise<void> {
  const giveUp = performance.now() + HANG_MS / 2;
  while (!condition()) {
    if (performance.now() > giveUp) assert.fail(`never happened: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('SSH tunnel to a remote Unix socket', { skip, timeout: HANG_MS }, () => {
  let sshd: SshdHandle;
  let work: string;
  let docker: Awaited<ReturnType<typeof fakeDocker>>;
  let dockerSocket: string;

  before(async () => {
    sshd = await startSshd();
    work = await mkdtemp(join(tmpdir(), 'moor-tunnel-test-'));
    dockerSocket = join(work, 'docker.sock');
    docker = await fakeDocker(dockerSocket);
  });

  after(async () => {
    if (docker) await closeServer(docker.server);
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  function options(listen: TunnelOptions['listen'], extra: Partial<TunnelOptions> = {}): TunnelOptions {
    return { target: targetOf(sshd), remoteSocket: dockerSocket, listen, connectTimeoutMs: 10_000, ...extra };
  }

  it('forwards HTTP through a Unix socket of mode 0600; close() removes it and resolves closed', async () => {
    const socketPath = join(work, 'tunnel.sock');
    const tunnel = await startTunnel(options({ socketPath }));
    try {
      assert.equal(tunnel.dockerHost, `unix://${socketPath}`);
      assert.equal((await stat(socketPath)).mode & 0o777, 0o600);
      assert.deepEqual(await request({ socketPath }, '/_ping'), { status: 200, body: 'OK' });
      const version = await request({ socketPath }, '/version');
      assert.equal(version.status, 200);
      assert.equal((JSON.parse(version.body) as { ApiVersion: string }).ApiVersion, '1.46');
      await eventually(
        () => tunnel.stats.active === 0,
        () => JSON.stringify(tunnel.stats),
      );
      assert.deepEqual(tunnel.stats, { clients: 2, active: 0, reconnects: 0 });
    } finally {
      await tunnel.close();
    }
    await tunnel.closed;
    assert.equal(await exists(socketPath), false, 'the socket file is gone');
    await tunnel.close(); // idempotent
    await assert.rejects(request({ socketPath }, '/_ping'), { code: 'ENOENT' });
  });

  it('listens on a free port of 127.0.0.1, and refuses a port in use', async () => {
    const tunnel = await startTunnel(options({ port: 0 }));
    try {
      const match = /^tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(tunnel.dockerHost);
      assert.ok(match?.[1], tunnel.dockerHost);
      const port = Number(match[1]);
      assert.deepEqual(await request({ port }, '/_ping'), { status: 200, body: 'OK' });
      const error = await rejection(startTunnel(options({ port })), 'TUNNEL_PORT_IN_USE');
      assert.ok(error.message.includes(String(port)), error.message);
    } finally {
      await tunnel.close();
    }
  });

  it('serves 20 concurrent clients over one SSH connection', async () => {
    const socketPath = join(work, 'many.sock');
    const loginsBefore = logins(sshd);
    const requestsBefore = docker.requests();
    const tunnel = await startTunnel(options({ socketPath }));
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => request({ socketPath }, '/_ping')));
      assert.deepEqual(
        results,
        Array.from({ length: 20 }, () => ({ status: 200, body: 'OK' })),
      );
      assert.equal(docker.requests() - requestsBefore, 20, 'the engine saw 20 requests');
      assert.equal(logins(sshd) - loginsBefore, 1, `one SSH login:\n${sshd.log()}`);
      await eventually(
        () => tunnel.stats.active === 0,
        () => JSON.stringify(tunnel.stats),
      );
      assert.deepEqual(tunnel.stats, { clients: 20, active: 0, reconnects: 0 });
    } finally {
      await tunnel.close();
    }
  });

  it('passes half-closes both ways and binary data intact', async () => {
    const echoSocket = join(work, 'echo-half.sock');
    const echo = await echoServer(echoSocket);
    const socketPath = join(work, 'half.sock');
    const tunnel = await startTunnel(options({ socketPath }, { remoteSocket: echoSocket }));
    try {
      const client = await dial(socketPath);
      const data = randomBytes(300_000);
      const received = closedWith(client);
      client.end(data); // our side ends: the echo still answers, then ends its own side
      assert.ok((await received).equals(data));
    } finally {
      await tunnel.close();
      await closeServer(echo);
    }
  });

  it('survives a killed SSH connection: the next client waits for a new one', async () => {
    const socketPath = join(work, 'reconnect.sock');
    const log = recordingLogger();
    const tunnel = await startTunnel(options({ socketPath }, { log }));
    try {
      assert.deepEqual(await request({ socketPath }, '/_ping'), { status: 200, body: 'OK' });
      const loginsBefore = logins(sshd);
      assert.ok((await sshd.dropConnections()) >= 1, 'killed the connection');
      assert.deepEqual(await request({ socketPath }, '/_ping'), { status: 200, body: 'OK' });
      assert.ok(tunnel.stats.reconnects >= 1, JSON.stringify(tunnel.stats));
      assert.ok(logins(sshd) > loginsBefore, 'a new SSH login');
      assert.ok(
        log.warnings.some((line) => /was lost/.test(line)),
        log.warnings.join('\n'),
      );
      // And the new connection serves several clients at once too.
      const reconnects = tunnel.stats.reconnects;
      const results = await Promise.all(Array.from({ length: 5 }, () => request({ socketPath }, '/version')));
      assert.ok(results.every((result) => result.status === 200));
      assert.equal(tunnel.stats.reconnects, reconnects);
    } finally {
      await tunnel.close();
    }
  });

  it('closes only the client whose channel fails', async () => {
    const echoSocket = join(work, 'echo-gone.sock');
    const echo = await echoServer(echoSocket);
    const socketPath = join(work, 'partial.sock');
    const log = recordingLogger();
    const tunnel = await startTunnel(options({ socketPath }, { remoteSocket: echoSocket, log }));
    try {
      const first = await dial(socketPath);
      assert.equal((await exchange(first, Buffer.from('one'))).toString(), 'one');
      // The remote socket goes away (the open connection stays): new channels are refused.
      const echoClosed = closeServer(echo);
      const second = await dial(socketPath);
      assert.equal((await closedWith(second)).length, 0, 'closed without data');
      assert.ok(
        log.warnings.some((line) => line.includes(echoSocket)),
        log.warnings.join('\n'),
      );
      assert.equal((await exchange(first, Buffer.from('two'))).toString(), 'two');
      const firstClosed = closedWith(first);
      first.end();
      await firstClosed;
      await echoClosed;
      await eventually(
        () => tunnel.stats.active === 0,
        () => JSON.stringify(tunnel.stats),
      );
      assert.deepEqual(tunnel.stats, { clients: 2, active: 0, reconnects: 0 });
    } finally {
      await tunnel.close();
    }
  });

  it('close() ends the open client streams', async () => {
    const echoSocket = join(work, 'echo-close.sock');
    const echo = await echoServer(echoSocket);
    const socketPath = join(work, 'closing.sock');
    const tunnel = await startTunnel(options({ socketPath }, { remoteSocket: echoSocket }));
    try {
      const client = await dial(socketPath);
      assert.equal((await exchange(client, Buffer.from('ping'))).toString(), 'ping');
      assert.equal(tunnel.stats.active, 1);
      const clientClosed = closedWith(client);
      await tunnel.close();
      await clientClosed;
      await tunnel.closed;
      assert.equal(tunnel.stats.active, 0);
      assert.equal(await exists(socketPath), false);
    } finally {
      await tunnel.close();
      await closeServer(echo);
    }
  });

  it('replaces a stale socket file; refuses a live listener and a file that is not a socket', async () => {
    const socketPath = join(work, 'stale.sock');
    // A process that dies while listening leaves its socket file behind.
    await new Promise<void>((resolve, reject) => {
      const script = `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`;
      const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
      child.once('error', reject);
      child.once('exit', () => resolve());
    });
    assert.ok((await stat(socketPath)).isSocket(), 'a stale socket file');
    const tunnel = await startTunnel(options({ socketPath }));
    try {
      assert.deepEqual(await request({ socketPath }, '/_ping'), { status: 200, body: 'OK' });
      // The live tunnel's socket is not taken over; the running tunnel keeps working.
      const error = await rejection(startTunnel(options({ socketPath })), 'TUNNEL_SOCKET_IN_USE');
      assert.ok(error.message.includes(socketPath), error.message);
      assert.deepEqual(await request({ socketPath }, '/_ping'), { status: 200, body: 'OK' });
    } finally {
      await tunnel.close();
    }
    const regular = join(work, 'regular-file');
    await writeFile(regular, 'keep me');
    await rejection(startTunnel(options({ socketPath: regular })), 'TUNNEL_PATH_EXISTS');
    assert.equal((await stat(regular)).isFile(), true);
  });

  it('fails fast when the remote socket is missing, leaving no socket file', async () => {
    const socketPath = join(work, 'missing.sock');
    const error = await rejection(
      startTunnel(options({ socketPath }, { remoteSocket: join(work, 'no-such.sock') })),
      'ENGINE_SOCKET_MISSING',
    );
    assert.match(error.message, /^No Docker engine socket at \S+no-such\.sock on 127\.0\.0\.1:\d+\.$/);
    assert.equal(await exists(socketPath), false);
  });

  it('stops with HOST_KEY_CHANGED when the host key changes before a reconnection', async () => {
    const own = await startSshd({ clientKeyPath: sshd.clientKeyPath });
    const socketPath = join(work, 'hostkey.sock');
    try {
      const tunnel: Tunnel = await startTunnel({
        target: targetOf(own), // no pinned key: the tunnel pins the one it saw first
        remoteSocket: dockerSocket,
        listen: { socketPath },
        connectTimeoutMs: 10_000,
      });
      assert.deepEqual(await request({ socketPath }, '/_ping'), { status: 200, body: 'OK' });
      await own.regenerateHostKey(); // restarts sshd, which drops the connection
      await assert.rejects(request({ socketPath }, '/_ping'));
      const error = await rejection(tunnel.closed, 'HOST_KEY_CHANGED');
      assert.match(error.message, /has changed/);
      assert.equal(await exists(socketPath), false, 'the stopped tunnel removed its socket');
      assert.equal(tunnel.stats.reconnects, 0);
      await tunnel.close(); // still fine
    } finally {
      await own.stop();
    }
  });
});
