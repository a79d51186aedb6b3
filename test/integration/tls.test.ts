/**
 * The certificates moor issues, used for real: a node:tls server with a machine's server certificate that
 * requires client certificates, and clients that verify the server, all on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import {
  type CertPair,
  type CertPaths,
  ensureClientCerts,
  generateServerCert,
  readClientBundle,
} from '../../src/core/certs.js';
import { Store } from '../../src/core/store.js';

const LOOPBACK = '127.0.0.1';

interface Bundle {
  ca: string;
  cert: string;
  key: string;
}

interface ServerHandle {
  port: number;
  /** Peers that completed the handshake, with what the server saw of them. */
  accepted: { authorized: boolean; organization: string | undefined }[];
  /** Connections the server refused; authorizationError is Node's verdict on the client certificate. */
  clientErrors: { error: Error; authorizationError: Error | string | null }[];
  close(): Promise<void>;
}

async function startServer(serverCert: CertPair, ca: string): Promise<ServerHandle> {
  const accepted: ServerHandle['accepted'] = [];
  const clientErrors: ServerHandle['clientErrors'] = [];
  const server = tls.createServer(
    { key: serverCert.keyPem, cert: serverCert.certPem, ca, requestCert: true, rejectUnauthorized: true },
    (socket) => {
      const organization = socket.getPeerCertificate().subject?.O;
      accepted.push({
        authorized: socket.authorized,
        organization: Array.isArray(organization) ? organization[0] : organization,
      });
      socket.once('data', (data) => socket.end(`pong:${data.toString()}`));
    },
  );
  server.on('tlsClientError', (error, socket) => {
    clientErrors.push({ error, authorizationError: socket.authorizationError });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    accepted,
    clientErrors,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Exchange {
  authorized: boolean;
  received: string;
  error: (Error & { code?: string }) | undefined;
}

/** Connects, sends "ping" once the handshake is done, and collects the answer until the connection ends. */
function exchange(port: number, client: Partial<Bundle>): Promise<Exchange> {
  return new Promise((resolve) => {
    let received = '';
    let authorized = false;
    let error: Exchange['error'];
    const socket = tls.connect({ host: LOOPBACK, port, ...client }, () => {
      authorized = socket.authorized;
      socket.write('ping');
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', (caught: Error) => (error = caught));
    socket.on('close', () => resolve({ authorized, received, error }));
  });
}

describe('TLS with moor certificates', () => {
  let root: string;
  let otherRoot: string;
  let paths: CertPaths;
  let bundle: Bundle;
  let otherBundle: Bundle;
  let serverCert: CertPair;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'moor-tls-'));
    otherRoot = await mkdtemp(join(tmpdir(), 'moor-tls-other-'));
    paths = await ensureClientCerts(new Store(root));
    bundle = await readClientBundle(paths);
    otherBundle = await readClientBundle(await ensureClientCerts(new Store(otherRoot)));
    serverCert = await generateServerCert(paths, [LOOPBACK], 'tls-test');
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(otherRoot, { recursive: true, force: true });
  });

  it('completes a mutually verified handshake and carries data both ways', async () => {
    const server = await startServer(serverCert, bundle.ca);
    try {
      const result = await exchange(server.port, bundle);
      assert.equal(result.error, undefined);
      assert.equal(result.authorized, true, 'the client verified the server certificate');
      assert.equal(result.received, 'pong:ping');
      assert.equal(server.clientErrors.length, 0);
      assert.deepEqual(server.accepted, [{ authorized: true, organization: `${userInfo().username}.<bootstrap>` }]);
    } finally {
      await server.close();
    }
  });

  it('rejects a client certificate issued by another CA', async () => {
    const server = await startServer(serverCert, bundle.ca);
    try {
      const result = await exchange(server.port, { ca: bundle.ca, cert: otherBundle.cert, key: otherBundle.key });
      assert.equal(result.received, '', 'no data reaches a rejected client');
      assert.equal(server.accepted.length, 0, 'the server never accepts the connection');
      // Node verifies the client certificate after the handshake and then drops the connection.
      assert.deepEqual(
        server.clientErrors.map((refused) => refused.authorizationError),
        ['UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      );
    } finally {
      await server.close();
    }
  });

  it('rejects a client without a certificate', async () => {
    const server = await startServer(serverCert, bundle.ca);
    try {
      const result = await exchange(server.port, { ca: bundle.ca });
      assert.equal(result.received, '');
      assert.equal(result.error?.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
      assert.equal(server.accepted.length, 0);
      assert.equal(
        (server.clientErrors[0]?.error as (Error & { code?: string }) | undefined)?.code,
        'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE',
      );
    } finally {
      await server.close();
    }
  });

  it('fails the client hostname check when the server certificate names another address', async () => {
    const wrongHost = await generateServerCert(paths, ['10.9.9.9'], 'elsewhere');
    const server = await startServer(wrongHost, bundle.ca);
    try {
      const result = await exchange(server.port, bundle);
      assert.equal(result.error?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      assert.match(result.error?.message ?? '', /10\.9\.9\.9/);
      assert.equal(result.received, '');
      assert.equal(server.accepted.length, 0);
    } finally {
      await server.close();
    }
  });
});
