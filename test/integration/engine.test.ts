import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ensureClientCerts, generateServerCert, readClientBundle } from '../../src/core/certs.js';
import { engineRequest, engineVersion, type EngineTLS } from '../../src/core/docker/engine.js';
import { MoorError } from '../../src/core/errors.js';
import { Store } from '../../src/core/store.js';

/** A Docker-API look-alike over mutual TLS: /_ping and /version, as a real engine answers them. */
describe('engine requests over TLS', () => {
  let root: string;
  let server: Server;
  let port: number;
  let tls: EngineTLS;
  let otherTls: EngineTLS;
  const requests: string[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'moor-engine-'));
    const store = new Store(join(root, 'a'));
    const paths = await ensureClientCerts(store);
    const bundle = await readClientBundle(paths);
    tls = { ca: bundle.ca, cert: bundle.cert, key: bundle.key };
    const other = await readClientBundle(await ensureClientCerts(new Store(join(root, 'b'))));
    otherTls = { ca: bundle.ca, cert: other.cert, key: other.key };
    const serverCert = await generateServerCert(paths, ['127.0.0.1'], 'engine');
    server = createServer(
      { cert: serverCert.certPem, key: serverCert.keyPem, ca: bundle.ca, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        requests.push(req.url ?? '');
        if (req.url === '/_ping') {
          res.end('OK');
        } else if (req.url === '/version') {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ Version: '26.1.5', ApiVersion: '1.45', Os: 'linux', Arch: 'amd64' }));
        } else {
          res.statusCode = 404;
          res.end('{"message":"page not found"}');
        }
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('reads the version with the client certificate', async () => {
    const version = await engineVersion(`tcp://127.0.0.1:${port}`, tls, 5_000);
    assert.equal(version.Version, '26.1.5');
    assert.equal(version.ApiVersion, '1.45');
    assert.equal(await engineRequest(`tcp://127.0.0.1:${port}`, '/_ping', async () => tls, 5_000), 'OK');
    assert.deepEqual(requests.slice(-2), ['/version', '/_ping']);
  });

  it('resumes the TLS session of an earlier request to the same engine (no second certificate exchange)', async () => {
    const resumed: boolean[] = [];
    const listener = (socket: import('node:tls').TLSSocket) => resumed.push(socket.isSessionReused());
    server.on('secureConnection', listener);
    try {
      for (let i = 0; i < 3; i++)
        assert.equal(await engineRequest(`tcp://127.0.0.1:${port}`, '/_ping', tls, 5_000), 'OK');
    } finally {
      server.off('secureConnection', listener);
    }
    assert.equal(resumed.length, 3);
    assert.deepEqual(resumed.slice(1), [true, true], `resumed: ${resumed.join(', ')}`);
  });

  it('reports an HTTP error with the engine message', async () => {
    await assert.rejects(engineRequest(`tcp://127.0.0.1:${port}`, '/nope', tls, 5_000), /answered 404/);
  });

  it('fails when the client certificate is not signed by the engine CA', async () => {
    await assert.rejects(engineVersion(`tcp://127.0.0.1:${port}`, otherTls, 5_000), (error: Error) => {
      assert.ok(error instanceof MoorError);
      assert.equal(error.code, 'ENGINE_UNREACHABLE');
      return true;
    });
  });

  it('fails the hostname check when the certificate names another address', async () => {
    // localhost resolves to 127.0.0.1, and "localhost" is in every server certificate: use the IPv4 alias
    // 127.0.0.2, which the certificate does not name (Linux routes all of 127/8 to loopback).
    const alias = createTcpServer();
    await new Promise<void>((resolve) => alias.listen(0, '127.0.0.2', resolve));
    alias.on('connection', (socket) => socket.pipe(connect({ host: '127.0.0.1', port })).pipe(socket));
    const aliasPort = (alias.address() as { port: number }).port;
    try {
      await assert.rejects(engineVersion(`tcp://127.0.0.2:${aliasPort}`, tls, 5_000), /altnames|IP: 127\.0\.0\.2/i);
    } finally {
      alias.close();
    }
  });

  it('does not read certificates when nothing listens', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    let read = false;
    await assert.rejects(
      engineVersion(
        `tcp://127.0.0.1:${closedPort}`,
        async () => {
          read = true;
          return tls;
        },
        2_000,
      ),
      /ECONNREFUSED/,
    );
    assert.equal(read, false);
  });

  it('gives up at the deadline when the engine accepts but never answers', async () => {
    const silent = createTcpServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      // The message shows that the 300 ms deadline ended it (the server itself never gives up).
      await assert.rejects(engineVersion(`tcp://127.0.0.1:${silentPort}`, tls, 300), /no answer within 300 ms/);
    } finally {
      silent.close();
    }
  });
});
