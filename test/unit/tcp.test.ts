/**
 * src/core/tcp.ts against real sockets on loopback: a connection made through Node's TCP handle works as
 * node:net's does, and fails with node:net's own error; host names go through node:net.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect, createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { constants as osConstants, networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import { connectTcp, errnoName, portAnswers, tcpBinding } from '../../src/core/tcp.js';

/** An echo server on `host`, port chosen by the system. */
async function echoServer(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A port on `host` that nothing listens on (one a server had a moment ago). */
async function closedPort(host: string): Promise<number> {
  const { server, port } = await echoServer(host);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function echo(socket: Socket, text: string): Promise<string> {
  socket.write(text);
  socket.end();
  let answer = '';
  for await (const chunk of socket) answer += String(chunk);
  return answer;
}

/** node:net's own error for a connection to host:port. */
function netError(host: string, port: number): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve) => connect({ host, port }).once('error', resolve));
}

const hasIpv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((entry) => entry?.address === '::1');

describe('tcp', () => {
  let v4: { server: Server; port: number };
  before(async () => {
    v4 = await echoServer('127.0.0.1');
  });
  after(() => v4.server.close());

  it("this Node has the TCP binding the fast connection uses (else every connection is node:net's)", () => {
    assert.ok(tcpBinding(), `no tcp_wrap binding on ${process.version}`);
  });

  it('connects to an IP address: a net.Socket that carries data both ways', async () => {
    const socket = await connectTcp('127.0.0.1', v4.port, 5_000);
    assert.ok(socket instanceof Socket);
    assert.equal(socket.remotePort, v4.port);
    assert.equal(socket.remoteAddress, '127.0.0.1');
    assert.equal(await echo(socket, 'ping over the handle'), 'ping over the handle');
  });

  it('connects to an IPv6 address', { skip: !hasIpv6Loopback && 'no ::1 here' }, async () => {
    const v6 = await echoServer('::1');
    try {
      const socket = await connectTcp('::1', v6.port, 5_000);
      assert.equal(socket.remoteAddress, '::1');
      assert.equal(await echo(socket, 'six'), 'six');
    } finally {
      v6.server.close();
    }
  });

  it('connects to a host name through node:net', async () => {
    const socket = await connectTcp('localhost', v4.port, 5_000).catch(async () =>
      // localhost may name ::1 first where the server listens on 127.0.0.1 only
      connectTcp('127.0.0.1', v4.port, 5_000),
    );
    assert.equal(await echo(socket, 'by name'), 'by name');
  });

  it("a refused connection fails with node:net's error: message, code, errno, syscall, address, port", async () => {
    const port = await closedPort('127.0.0.1');
    const expected = await netError('127.0.0.1', port);
    const error = (await connectTcp('127.0.0.1', port, 5_000).then(
      () => assert.fail('connected to a closed port'),
      (rejection: unknown) => rejection,
    )) as NodeJS.ErrnoException & { address: string; port: number };
    assert.equal(error.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
    assert.deepEqual(
      [error.message, error.code, error.errno, error.syscall, error.address, error.port],
      [
        expected.message,
        expected.code,
        expected.errno,
        expected.syscall,
        (expected as { address?: string }).address,
        (expected as { port?: number }).port,
      ],
    );
  });

  it("errnoName: libuv's name for every errno libuv knows, UNKNOWN for the others", () => {
    for (const [name, value] of Object.entries(osConstants.errno)) {
      const libuv = getSystemErrorName(-value);
      const expected = libuv.startsWith('Unknown system error') ? 'UNKNOWN' : libuv;
      assert.equal(errnoName(-value), expected, `${name} (${value})`);
    }
    assert.equal(errnoName(-osConstants.errno.ECONNREFUSED), 'ECONNREFUSED');
  });

  it('portAnswers: true for a listening port, false for a closed one, by address and by name', async () => {
    const closed = await closedPort('127.0.0.1');
    assert.equal(await portAnswers('127.0.0.1', v4.port, 5_000), true);
    assert.equal(await portAnswers('127.0.0.1', closed, 5_000), false);
    assert.equal(await portAnswers('no-such-host.invalid', v4.port, 5_000), false);
  });

  it('prints no deprecation warning under --pending-deprecation, and --throw-deprecation does not throw', () => {
    const script = `
      import { connectTcp } from ${JSON.stringify(fileURLToPath(new URL('../../src/core/tcp.ts', import.meta.url)))};
      connectTcp('127.0.0.1', 1, 5000).catch((error) => console.log(error.code));
    `;
    const result = spawnSync(
      process.execPath,
      ['--pending-deprecation', '--throw-deprecation', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, 'ECONNREFUSED\n');
    assert.equal(result.status, 0);
  });
});
