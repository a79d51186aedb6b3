import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  type CertPaths,
  describeCertificate,
  ensureClientBundle,
  ensureClientCerts,
  generateServerCert,
  readClientBundle,
} from '../../src/core/certs.js';
import { MoorError, UsageError } from '../../src/core/errors.js';
import { Store } from '../../src/core/store.js';
import { needs, programMissing } from '../helpers/prerequisites.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const user = userInfo().username;
const DAY_MS = 24 * 60 * 60 * 1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const temps: string[] = [];
async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'moor-certs-'));
  temps.push(root);
  return root;
}

async function certificateAt(path: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(path));
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/** Key usage bits and the basicConstraints extension, which node:crypto does not expose. */
function extensionsOf(pem: string): { keyUsage: number; keyUsageCritical: boolean; ca: boolean | undefined } {
  const cert = new x509.X509Certificate(pem);
  const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
  assert.ok(keyUsage, 'certificate has a keyUsage extension');
  return {
    keyUsage: keyUsage.usages,
    keyUsageCritical: keyUsage.critical,
    ca: cert.getExtension(x509.BasicConstraintsExtension)?.ca,
  };
}

function assertIssuedBy(cert: X509Certificate, ca: X509Certificate): void {
  assert.ok(cert.checkIssued(ca), 'issuer name matches the CA subject');
  assert.ok(cert.verify(ca.publicKey), 'signature verifies with the CA public key');
}

async function assertRejects(promise: Promise<unknown>, code: string, mentions: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof MoorError, `expected a MoorError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.ok(error.message.includes(mentions), `"${error.message}" mentions ${mentions}`);
    return true;
  });
}

describe('certs', () => {
  let store: Store;
  let paths: CertPaths;
  let createdAt: number;
  let otherStore: Store;
  let otherPaths: CertPaths;

  before(async () => {
    store = new Store(await tempRoot());
    createdAt = Date.now();
    paths = await ensureClientCerts(store);
    otherStore = new Store(await tempRoot());
    otherPaths = await ensureClientCerts(otherStore);
  });

  after(async () => {
    await Promise.all(temps.map((root) => rm(root, { recursive: true, force: true })));
  });

  describe('store CA and client certificate', () => {
    it('are created in <store>/certs with private modes', async () => {
      assert.deepEqual(paths, {
        caCert: join(store.certsDir, 'ca.pem'),
        caKey: join(store.certsDir, 'ca-key.pem'),
        clientCert: join(store.certsDir, 'cert.pem'),
        clientKey: join(store.certsDir, 'key.pem'),
      });
      assert.deepEqual((await readdir(store.certsDir)).sort(), ['ca-key.pem', 'ca.pem', 'cert.pem', 'key.pem']);
      assert.equal(await mode(store.certsDir), 0o700);
      for (const file of Object.values(paths)) assert.equal(await mode(file), 0o600, file);
      for (const key of [paths.caKey, paths.clientKey]) {
        const pem = await readFile(key, 'utf8');
        assert.match(pem, /^-----BEGIN EC PRIVATE KEY-----\n/);
        const details = createPrivateKey(pem).asymmetricKeyDetails;
        assert.equal(details?.namedCurve, 'prime256v1', 'ECDSA P-256');
      }
    });

    it('are reused by later calls', async () => {
      const first = await readClientBundle(paths);
      const again = await ensureClientCerts(new Store(store.root));
      assert.deepEqual(again, paths);
      assert.deepEqual(await readClientBundle(again), first);
    });

    it('CA is a self-signed CA for 1080 days from 5 minutes ago, ECDSA P-256 with SHA-256', async () => {
      const pem = await readFile(paths.caCert, 'utf8');
      const ca = new X509Certificate(pem);
      assert.equal(ca.ca, true);
      assert.equal(ca.subject, `O=${user}`);
      assert.equal(ca.issuer, ca.subject);
      assertIssuedBy(ca, ca);
      const notBefore = Date.parse(ca.validFrom);
      const notAfter = Date.parse(ca.validTo);
      assert.ok(Math.abs(notBefore - (createdAt - 5 * 60 * 1000)) < 10_000, `notBefore ${ca.validFrom}`);
      assert.equal(notAfter - notBefore, 1080 * DAY_MS);
      assert.deepEqual(ca.keyUsage?.sort(), [SERVER_AUTH, CLIENT_AUTH]);
      const extensions = extensionsOf(pem);
      assert.equal(extensions.keyUsage, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature);
      assert.equal(extensions.keyUsageCritical, true);
      assert.equal(extensions.ca, true);
      const basicConstraints = new x509.X509Certificate(pem).getExtension(x509.BasicConstraintsExtension);
      assert.equal(basicConstraints?.critical, true);
      const algorithm = new x509.X509Certificate(pem).signatureAlgorithm as SignatureAlgorithmLike;
      assert.equal(algorithm.name, 'ECDSA');
      assert.equal(algorithm.hash.name, 'SHA-256');
    });

    it('client certificate is signed by the CA for client authentication only', async () => {
      const ca = await certificateAt(paths.caCert);
      const pem = await readFile(paths.clientCert, 'utf8');
      const client = new X509Certificate(pem);
      assertIssuedBy(client, ca);
      assert.equal(client.ca, false);
      assert.deepEqual({ ...client.toLegacyObject().subject }, { O: `${user}.<bootstrap>` });
      assert.deepEqual(client.keyUsage, [CLIENT_AUTH]);
      assert.equal(extensionsOf(pem).keyUsage, x509.KeyUsageFlags.digitalSignature);
      const publicFromKey = createPublicKey(await readFile(paths.clientKey, 'utf8'));
      assert.ok(publicFromKey.equals(client.publicKey), 'key.pem is the key of cert.pem');
    });

    it('serial numbers are random positive 128-bit numbers', async () => {
      const serials = [paths.caCert, paths.clientCert, otherPaths.caCert, otherPaths.clientCert].map((file) =>
        BigInt(`0x${new x509.X509Certificate(readFileSync(file, 'utf8')).serialNumber}`),
      );
      assert.equal(new Set(serials).size, serials.length);
      for (const serial of serials) assert.ok(serial > 0n && serial < 1n << 128n, serial.toString(16));
    });

    it('a missing client pair is recreated from the existing CA', async () => {
      const copy = new Store(await tempRoot());
      await copyCertFiles(paths, copy, ['caCert', 'caKey']);
      const copyPaths = await ensureClientCerts(copy);
      assert.equal(await readFile(copyPaths.caCert, 'utf8'), await readFile(paths.caCert, 'utf8'));
      assertIssuedBy(await certificateAt(copyPaths.clientCert), await certificateAt(paths.caCert));
      assert.equal(await mode(copyPaths.clientKey), 0o600);
    });

    it('a corrupt CA certificate is reported, naming the file', async () => {
      const copy = new Store(await tempRoot());
      await copyCertFiles(paths, copy, ['caCert', 'caKey', 'clientCert', 'clientKey']);
      await writeFile(join(copy.certsDir, 'ca.pem'), 'not a certificate\n');
      await assertRejects(ensureClientCerts(copy), 'TLS_FILE_INVALID', join(copy.certsDir, 'ca.pem'));
    });

    it('a CA key that does not match the CA certificate is reported', async () => {
      const copy = new Store(await tempRoot());
      await copyCertFiles(paths, copy, ['caCert', 'clientCert', 'clientKey']);
      await copyFile(otherPaths.caKey, join(copy.certsDir, 'ca-key.pem'));
      await assertRejects(ensureClientCerts(copy), 'TLS_KEY_MISMATCH', join(copy.certsDir, 'ca-key.pem'));
    });

    it('a client certificate from another CA is reported', async () => {
      const copy = new Store(await tempRoot());
      await copyCertFiles(paths, copy, ['caCert', 'caKey']);
      await copyFile(otherPaths.clientCert, join(copy.certsDir, 'cert.pem'));
      await copyFile(otherPaths.clientKey, join(copy.certsDir, 'key.pem'));
      await assertRejects(ensureClientCerts(copy), 'TLS_NOT_SIGNED_BY_CA', join(copy.certsDir, 'cert.pem'));
    });

    it('ensureClientBundle gives the files it checked, as readClientBundle reads them', async () => {
      const { paths: again, bundle } = await ensureClientBundle(new Store(store.root));
      assert.deepEqual(again, paths);
      assert.deepEqual(bundle, await readClientBundle(paths));
    });

    it('a CA changed on disk after it was checked is checked again, not taken from the earlier parse', async () => {
      const copy = new Store(await tempRoot());
      await copyCertFiles(paths, copy, ['caCert', 'caKey', 'clientCert', 'clientKey']);
      const copyPaths = await ensureClientCerts(copy);
      const first = await generateServerCert(copyPaths, ['10.0.0.1'], 'dev');
      assertIssuedBy(new X509Certificate(first.certPem), await certificateAt(paths.caCert));
      // Same paths, the other store's CA: the next certificate is signed by it.
      await copyFile(otherPaths.caCert, copyPaths.caCert);
      await copyFile(otherPaths.caKey, copyPaths.caKey);
      const second = await generateServerCert(copyPaths, ['10.0.0.1'], 'dev');
      assertIssuedBy(new X509Certificate(second.certPem), await certificateAt(otherPaths.caCert));
      // And a key that no longer matches is refused, though the certificate is the one parsed before.
      await copyFile(paths.caKey, copyPaths.caKey);
      await assertRejects(generateServerCert(copyPaths, ['10.0.0.1'], 'dev'), 'TLS_KEY_MISMATCH', copyPaths.caKey);
    });

    it('a CA key without its certificate is reported, not replaced', async () => {
      const copy = new Store(await tempRoot());
      await copyCertFiles(paths, copy, ['caKey']);
      await assertRejects(ensureClientCerts(copy), 'TLS_FILE_MISSING', join(copy.certsDir, 'ca.pem'));
      assert.equal(await readFile(join(copy.certsDir, 'ca-key.pem'), 'utf8'), await readFile(paths.caKey, 'utf8'));
    });
  });

  describe('server certificate', () => {
    it('splits hosts into IP and DNS names, adds localhost and removes duplicates', async () => {
      const hosts = [
        '192.168.99.100',
        '2001:DB8:0:0::1',
        'docker.example.com',
        '192.168.99.100',
        'localhost',
        '[::1]',
        'fe80::1%eth0',
      ];
      const server = await generateServerCert(paths, hosts, 'dev');
      const info = describeCertificate(server.certPem);
      assert.deepEqual(info.ipAddresses, ['192.168.99.100', '2001:db8::1', '::1', 'fe80::1']);
      assert.deepEqual(info.dnsNames, ['docker.example.com', 'localhost']);
      assert.equal(info.subject, `O=${user}.dev`);
      assert.equal(info.issuer, `O=${user}`);

      const cert = new X509Certificate(server.certPem);
      assertIssuedBy(cert, await certificateAt(paths.caCert));
      assert.equal(cert.checkIP('192.168.99.100'), '192.168.99.100');
      assert.ok(cert.checkIP('2001:db8::1'));
      assert.equal(cert.checkHost('docker.example.com'), 'docker.example.com');
      assert.equal(cert.checkHost('localhost'), 'localhost');
      assert.equal(cert.checkHost('other.example.com'), undefined);
      assert.equal(cert.checkIP('10.0.0.1'), undefined);
      assert.match(cert.subjectAltName ?? '', /IP Address:192\.168\.99\.100/);
      assert.match(cert.subjectAltName ?? '', /DNS:docker\.example\.com/);
      assert.equal(cert.ca, false);
      assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
      assert.equal(
        extensionsOf(server.certPem).keyUsage,
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
      );
      assert.equal(info.notAfter.getTime() - info.notBefore.getTime(), 1080 * DAY_MS);
      assert.ok(info.notBefore.getTime() < Date.now() - 4 * 60 * 1000);

      assert.match(server.keyPem, /^-----BEGIN EC PRIVATE KEY-----\n/);
      assert.ok(createPublicKey(server.keyPem).equals(cert.publicKey), 'keyPem is the key of certPem');
    });

    it('rejects a host that is neither an IP address nor a DNS name', async () => {
      await assert.rejects(generateServerCert(paths, ['not a host'], 'dev'), UsageError);
    });
  });

  describe('external certificate options', () => {
    it('a given CA signs the client and server certificates', async () => {
      const target = new Store(await tempRoot());
      const used = await ensureClientCerts(target, { caCert: otherPaths.caCert, caKey: otherPaths.caKey });
      const caDer = (await certificateAt(otherPaths.caCert)).raw;
      const derivedDir = join(
        target.certsDir,
        'external',
        createHash('sha256').update(caDer).digest('hex').slice(0, 16),
      );
      assert.deepEqual(used, {
        caCert: otherPaths.caCert,
        caKey: otherPaths.caKey,
        clientCert: join(derivedDir, 'cert.pem'),
        clientKey: join(derivedDir, 'key.pem'),
      });
      assert.deepEqual((await readdir(target.certsDir)).sort(), ['external'], 'no store CA is created');
      assert.equal(await mode(derivedDir), 0o700);
      assert.equal(await mode(used.clientKey), 0o600);

      const givenCa = await certificateAt(otherPaths.caCert);
      assertIssuedBy(await certificateAt(used.clientCert), givenCa);
      const server = await generateServerCert(used, ['10.1.2.3'], 'external');
      const serverCert = new X509Certificate(server.certPem);
      assertIssuedBy(serverCert, givenCa);
      assert.equal(serverCert.verify((await certificateAt(paths.caCert)).publicKey), false);

      const again = await ensureClientCerts(target, { caCert: otherPaths.caCert, caKey: otherPaths.caKey });
      assert.deepEqual(again, used);
    });

    it('given client files are used as they are', async () => {
      const target = new Store(await tempRoot());
      const used = await ensureClientCerts(target, {
        caCert: otherPaths.caCert,
        caKey: otherPaths.caKey,
        clientCert: otherPaths.clientCert,
        clientKey: otherPaths.clientKey,
      });
      assert.deepEqual(used, otherPaths);
    });

    it('a CA key that does not match the CA certificate is rejected, naming the key', async () => {
      const target = new Store(await tempRoot());
      await assertRejects(
        ensureClientCerts(target, { caCert: paths.caCert, caKey: otherPaths.caKey }),
        'TLS_KEY_MISMATCH',
        otherPaths.caKey,
      );
      await assertRejects(
        generateServerCert({ caCert: paths.caCert, caKey: otherPaths.caKey }, ['10.0.0.1'], 'dev'),
        'TLS_KEY_MISMATCH',
        otherPaths.caKey,
      );
    });

    it('a client certificate of another CA is rejected', async () => {
      const target = new Store(await tempRoot());
      await assertRejects(
        ensureClientCerts(target, {
          caCert: paths.caCert,
          caKey: paths.caKey,
          clientCert: otherPaths.clientCert,
          clientKey: otherPaths.clientKey,
        }),
        'TLS_NOT_SIGNED_BY_CA',
        otherPaths.clientCert,
      );
    });

    it('a CA certificate without its key is a usage error', async () => {
      const target = new Store(await tempRoot());
      await assert.rejects(ensureClientCerts(target, { caCert: paths.caCert }), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.equal(error.exitCode, 2);
        assert.match(error.message, /--tls-ca-cert and --tls-ca-key/);
        return true;
      });
      await assert.rejects(ensureClientCerts(target, { clientKey: paths.clientKey }), UsageError);
    });

    it('a CA whose key moor cannot sign with (Ed25519) is reported as such', async (t) => {
      if (!needs(t, programMissing('openssl', ['version'], 'apt-get install openssl'))) return;
      const root = await tempRoot();
      const [caCert, caKey] = [join(root, 'ed-ca.pem'), join(root, 'ed-ca-key.pem')];
      const made = spawnSync('openssl', [
        ...['req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '3'],
        ...['-subj', '/O=ed', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign'],
      ]);
      assert.equal(made.status, 0, String(made.stderr));
      const target = new Store(await tempRoot());
      await assertRejects(ensureClientCerts(target, { caCert, caKey }), 'TLS_UNSUPPORTED_KEY', 'ed25519');
    });

    it('a missing file is reported by name', async () => {
      const target = new Store(await tempRoot());
      const missing = join(target.root, 'nowhere', 'ca.pem');
      await assertRejects(
        ensureClientCerts(target, { caCert: missing, caKey: paths.caKey }),
        'TLS_FILE_MISSING',
        missing,
      );
    });
  });

  it('20 processes started at once on a fresh store create exactly one CA', { timeout: 120_000 }, async () => {
    const root = await tempRoot();
    const certsModule = pathToFileURL(join(repoRoot, 'src/core/certs.ts')).href;
    const storeModule = pathToFileURL(join(repoRoot, 'src/core/store.ts')).href;
    const script = [
      `import { readFileSync } from 'node:fs';`,
      `const { ensureClientCerts } = await import(${JSON.stringify(certsModule)});`,
      `const { Store } = await import(${JSON.stringify(storeModule)});`,
      `const paths = await ensureClientCerts(new Store(process.env.MOOR_TEST_STORE));`,
      `process.stdout.write(JSON.stringify({ paths, ca: readFileSync(paths.caCert, 'utf8'), client: readFileSync(paths.clientCert, 'utf8') }));`,
    ].join('\n');
    const runs = await Promise.all(
      Array.from({ length: 20 }, () => runNode(['--import', 'tsx', '--input-type=module', '-e', script], root)),
    );
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const results = runs.map((run) => JSON.parse(run.stdout) as { paths: CertPaths; ca: string; client: string });
    const caPem = await readFile(join(root, 'certs', 'ca.pem'), 'utf8');
    const clientPem = await readFile(join(root, 'certs', 'cert.pem'), 'utf8');
    for (const result of results) {
      assert.equal(result.ca, caPem);
      assert.equal(result.client, clientPem);
      assert.equal(result.paths.caCert, join(root, 'certs', 'ca.pem'));
    }
    assert.deepEqual((await readdir(join(root, 'certs'))).sort(), ['ca-key.pem', 'ca.pem', 'cert.pem', 'key.pem']);
    assert.deepEqual(await readdir(join(root, 'locks')), [], 'the lock is released');
    const ca = new X509Certificate(caPem);
    assertIssuedBy(ca, ca);
    assertIssuedBy(new X509Certificate(clientPem), ca);
  });
});

interface SignatureAlgorithmLike {
  name: string;
  hash: { name: string };
}

async function copyCertFiles(from: CertPaths, to: Store, which: (keyof CertPaths)[]): Promise<void> {
  await to.init();
  const names: Record<keyof CertPaths, string> = {
    caCert: 'ca.pem',
    caKey: 'ca-key.pem',
    clientCert: 'cert.pem',
    clientKey: 'key.pem',
  };
  await Promise.all(which.map((file) => copyFile(from[file], join(to.certsDir, names[file]))));
}

function runNode(args: string[], storeRoot: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, MOOR_TEST_STORE: storeRoot },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
