/** `moor create -d none`: the store it writes (files, modes, config.json, certificates) and engine options. */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertExit, BIN, modeOf, run, TempStore, walk } from './helpers.js';

const URL_WEB = 'tcp://127.0.0.1:2376';

interface SanEntries {
  ips: string[];
  dns: string[];
}

function sanOf(cert: X509Certificate): SanEntries {
  const ips: string[] = [];
  const dns: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('IP Address:')) ips.push(entry.slice('IP Address:'.length));
    else if (entry.startsWith('DNS:')) dns.push(entry.slice('DNS:'.length));
  }
  return { ips, dns };
}

function spki(key: ReturnType<typeof createPublicKey>): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

describe('create -d none', () => {
  let store: TempStore;
  let otherStore: TempStore;

  before(async () => {
    [store, otherStore] = await Promise.all([TempStore.create(), TempStore.create()]);
  });
  after(async () => {
    await Promise.all([store.cleanup(), otherStore.cleanup()]);
  });

  it('creates the machine: exit 0, one line on stdout, the eval hint on stderr', async () => {
    const result = await store.moor(['create', '-d', 'none', '--url', URL_WEB, 'web']);
    assertExit(result, 0);
    assert.equal(result.stdout, 'Machine "web" created (none driver).\n');
    assert.ok(result.stderr.includes('eval $(moor env web)'), result.stderr);
  });

  it('lays out the store with folders 0700 and files 0600', async () => {
    const files = await walk(store.root);
    for (const expected of [
      'certs/ca.pem',
      'certs/ca-key.pem',
      'certs/cert.pem',
      'certs/key.pem',
      'machines/web/config.json',
      'machines/web/ca.pem',
      'machines/web/cert.pem',
      'machines/web/key.pem',
      'machines/web/server.pem',
      'machines/web/server-key.pem',
    ]) {
      assert.ok(files.includes(expected), `${expected} missing; store holds:\n${files.join('\n')}`);
    }
    for (const dir of ['', 'certs', 'machines', 'machines/web']) {
      assert.equal((await modeOf(store.path(dir))).toString(8), '700', `mode of folder "${dir}"`);
    }
    for (const entry of files) {
      const isDir = (await stat(store.path(entry))).isDirectory();
      assert.equal((await modeOf(store.path(entry))).toString(8), isDir ? '700' : '600', `mode of ${entry}`);
    }
    assert.deepEqual(
      files.filter((path) => path.startsWith('machines/web/')).sort(),
      [
        'machines/web/ca.pem',
        'machines/web/cert.pem',
        'machines/web/config.json',
        'machines/web/key.pem',
        'machines/web/server-key.pem',
        'machines/web/server.pem',
      ],
      'no temporary files left in the machine folder',
    );
  });

  it('keeps folders 0700 and files 0600 under a permissive umask (000)', async () => {
    const loose = await TempStore.create();
    try {
      const result = await run(
        'sh',
        ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, BIN, 'create', 'loose', '-d', 'none', '--url', URL_WEB],
        { env: { MOOR_STORAGE_PATH: loose.root } },
      );
      assertExit(result, 0);
      for (const entry of await walk(loose.root)) {
        const isDir = (await stat(loose.path(entry))).isDirectory();
        assert.equal((await modeOf(loose.path(entry))).toString(8), isDir ? '700' : '600', `mode of ${entry}`);
      }
    } finally {
      await loose.cleanup();
    }
  });

  it('writes a valid config.json (ConfigVersion 1, Name, DriverName, Driver.URL, Phase created)', async () => {
    const config = JSON.parse(await readFile(store.path('machines/web/config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(config['ConfigVersion'], 1);
    assert.equal(config['Name'], 'web');
    assert.equal(config['DriverName'], 'none');
    assert.equal(config['Phase'], 'created');
    assert.equal((config['Driver'] as Record<string, unknown>)['URL'], URL_WEB);
    assert.ok(!Number.isNaN(Date.parse(String(config['CreatedAt']))), `CreatedAt ${String(config['CreatedAt'])}`);
    assert.equal('LastError' in config, false);
  });

  it('issues a server certificate for 127.0.0.1 and localhost, signed by the store CA', async () => {
    const [caPem, machineCaPem, serverPem, serverKeyPem, clientPem, clientKeyPem] = await Promise.all(
      [
        'certs/ca.pem',
        'machines/web/ca.pem',
        'machines/web/server.pem',
        'machines/web/server-key.pem',
        'machines/web/cert.pem',
        'machines/web/key.pem',
      ].map((file) => readFile(store.path(file), 'utf8')),
    );
    assert.equal(machineCaPem, caPem, "the machine's ca.pem is the store CA");
    const ca = new X509Certificate(caPem!);
    assert.equal(ca.ca, true);
    const server = new X509Certificate(serverPem!);
    const san = sanOf(server);
    assert.ok(san.ips.includes('127.0.0.1'), `SAN ${server.subjectAltName}`);
    assert.ok(san.dns.includes('localhost'), `SAN ${server.subjectAltName}`);
    assert.ok(server.checkIssued(ca), 'server certificate issued by the CA');
    assert.ok(server.verify(ca.publicKey), 'server certificate signature verifies with the CA key');
    assert.equal(server.ca, false);
    assert.ok(server.checkIP('127.0.0.1') !== undefined);
    assert.ok(server.checkHost('localhost') !== undefined);
    assert.deepEqual(spki(createPublicKey(createPrivateKey(serverKeyPem!))), spki(server.publicKey), 'server key pair');
    const client = new X509Certificate(clientPem!);
    assert.ok(client.verify(ca.publicKey), 'client certificate signed by the CA');
    assert.deepEqual(spki(createPublicKey(createPrivateKey(clientKeyPem!))), spki(client.publicKey), 'client key pair');
  });

  it('stores every engine flag in HostOptions.EngineOptions and --tls-san in the certificate', async () => {
    const result = await store.moor([
      'create',
      'eng',
      '-d',
      'none',
      '--url',
      'tcp://127.0.0.1:2377',
      '--engine-label',
      'env=prod',
      '--engine-label',
      'tier=fe',
      '--engine-opt',
      'dns=8.8.8.8',
      '--engine-opt',
      'log-level=debug',
      '--engine-env',
      'FOO=bar',
      '--engine-insecure-registry',
      '127.0.0.1:5000',
      '--engine-registry-mirror',
      'http://127.0.0.1:5001',
      '--engine-storage-driver',
      'overlay2',
      '--tls-san',
      'extra.example.com',
    ]);
    assertExit(result, 0);
    const config = JSON.parse(await readFile(store.path('machines/eng/config.json'), 'utf8')) as {
      HostOptions: { EngineOptions: Record<string, unknown>; AuthOptions: Record<string, unknown> };
    };
    assert.deepEqual(config.HostOptions.EngineOptions, {
      InstallURL: '',
      ArbitraryFlags: ['dns=8.8.8.8', 'log-level=debug'],
      Env: ['FOO=bar'],
      InsecureRegistry: ['127.0.0.1:5000'],
      RegistryMirror: ['http://127.0.0.1:5001'],
      Labels: ['env=prod', 'tier=fe'],
      StorageDriver: 'overlay2',
      TlsVerify: true,
    });
    assert.deepEqual(config.HostOptions.AuthOptions['ServerCertSANs'], ['extra.example.com']);
    const server = new X509Certificate(await readFile(store.path('machines/eng/server.pem'), 'utf8'));
    const san = sanOf(server);
    assert.deepEqual(san.ips, ['127.0.0.1']);
    assert.deepEqual([...san.dns].sort(), ['extra.example.com', 'localhost']);
    const ca = new X509Certificate(await readFile(store.path('certs/ca.pem'), 'utf8'));
    assert.ok(server.verify(ca.publicKey), 'signed by the same store CA');
  });

  it('accepts repeatable flags before NAME, in docker-machine order (create -d none --engine-label k=v NAME)', async () => {
    const result = await store.moor([
      'create',
      '-d',
      'none',
      '--url',
      'tcp://127.0.0.1:2378',
      '--engine-label',
      'env=prod',
      '--tls-san',
      'ordered.example.com',
      'ordered',
    ]);
    assertExit(result, 0);
    const config = JSON.parse(await readFile(store.path('machines/ordered/config.json'), 'utf8')) as {
      HostOptions: { EngineOptions: { Labels: string[] }; AuthOptions: { ServerCertSANs: string[] } };
    };
    assert.deepEqual(config.HostOptions.EngineOptions.Labels, ['env=prod']);
    assert.deepEqual(config.HostOptions.AuthOptions.ServerCertSANs, ['ordered.example.com']);
  });

  it('takes the driver and URL from MOOR_DRIVER and MOOR_NONE_URL', async () => {
    const result = await store.moor(['create', 'fromenv'], {
      env: { MOOR_DRIVER: 'none', MOOR_NONE_URL: 'tcp://127.0.0.1:2379' },
    });
    assertExit(result, 0);
    assert.equal(result.stdout, 'Machine "fromenv" created (none driver).\n');
    const config = JSON.parse(await readFile(store.path('machines/fromenv/config.json'), 'utf8')) as {
      DriverName: string;
      Driver: { URL: string };
    };
    assert.equal(config.DriverName, 'none');
    assert.equal(config.Driver.URL, 'tcp://127.0.0.1:2379');
  });

  it('lets --url win over MOOR_NONE_URL', async () => {
    const result = await store.moor(['create', 'flagwins', '-d', 'none', '--url', 'tcp://127.0.0.1:2380'], {
      env: { MOOR_NONE_URL: 'tcp://127.0.0.1:2381' },
    });
    assertExit(result, 0);
    const url = await store.moor(['url', 'flagwins']);
    assertExit(url, 0);
    assert.equal(url.stdout, 'tcp://127.0.0.1:2380\n');
  });

  it('uses the store given with --storage-path (and -s) instead of MOOR_STORAGE_PATH', async () => {
    const created = await store.moor(
      ['create', '--storage-path', otherStore.root, 'elsewhere', '-d', 'none', '--url', 'tcp://127.0.0.1:2382'],
      {},
    );
    assertExit(created, 0);
    const [here, there] = await Promise.all([
      store.moor(['ls', '-q']),
      store.moor(['ls', '-q', '-s', otherStore.root]),
    ]);
    assertExit(here, 0);
    assertExit(there, 0);
    assert.equal(there.stdout, 'elsewhere\n');
    assert.ok(!here.stdout.split('\n').includes('elsewhere'), here.stdout);
    assert.equal((await modeOf(otherStore.path('machines/elsewhere'))).toString(8), '700');
  });
});
