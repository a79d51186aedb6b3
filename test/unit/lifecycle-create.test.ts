/**
 * createMachine's branches, through Moor.create with the fake driver (test/helpers/fake-driver.ts): what is
 * refused before anything is written, what a failed create leaves in the store (a record in Error, or
 * nothing when the driver removes its host again), and what a successful one writes. Nothing here needs
 * SSH: the fake driver does not provision, and where it does, provisioning fails before connecting.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ExitCode, InterruptedError, MoorError, UsageError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { CONFIG_VERSION, type EngineOptions } from '../../src/core/machine.js';
import { Moor } from '../../src/core/moor.js';
import { fakeDriver, fakeRecord } from '../helpers/fake-driver.js';
import { testKeyPair } from '../helpers/keys.js';

const roots: string[] = [];
after(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

/** A Moor on a new, empty store. */
async function newMoor(): Promise<Moor> {
  const root = await mkdtemp(join(tmpdir(), 'moor-create-'));
  roots.push(root);
  return new Moor({ storagePath: root, log: silentLogger, env: {} });
}

/** Rejects with a MoorError of `code` and `exitCode`; returns it. */
async function failure(promise: Promise<unknown>, code: string, exitCode: number): Promise<MoorError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}, but create succeeded`),
    (thrown: unknown) => thrown,
  );
  assert.ok(error instanceof MoorError, `expected a MoorError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.exitCode, exitCode, error.message);
  return error;
}

/** The store's top-level entries, and whether it has a folder for `name`. */
async function storeContents(moor: Moor, name: string) {
  const top = await readdir(moor.store.root).catch(() => [] as string[]);
  return { top: top.sort(), machine: await moor.store.exists(name) };
}

/** A create whose signal is aborted (as by Ctrl-C) when the driver reaches `operation`. */
function interruptAt(driver: ReturnType<typeof fakeDriver>, operation: 'preCreateCheck' | 'create') {
  const controller = new AbortController();
  driver.before(operation, () => controller.abort(new InterruptedError('SIGINT')));
  return controller.signal;
}

describe('createMachine refuses before anything is written', () => {
  it('an invalid name (exit 2)', async () => {
    const driver = fakeDriver();
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'no spaces', driver: driver.name, driverFlags: {} }),
      'INVALID_NAME',
      ExitCode.usage,
    );
    assert.ok(error instanceof UsageError);
    assert.match(error.message, /Invalid machine name "no spaces"/);
    assert.deepEqual(driver.calls, []);
    assert.deepEqual((await storeContents(moor, 'no spaces')).top, []);
  });

  it('an unknown driver (exit 2), naming the drivers there are', async () => {
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: 'no-such-driver', driverFlags: {} }),
      'UNKNOWN_DRIVER',
      ExitCode.usage,
    );
    assert.match(error.message, /Driver "no-such-driver" not found\. Available drivers: .*\bnone\b/);
    assert.deepEqual(await storeContents(moor, 'web'), { top: [], machine: false });
  });

  it('a bad engine option (exit 2)', async () => {
    const driver = fakeDriver();
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {}, engine: { Labels: ['no-equals-sign'] } }),
      'USAGE',
      ExitCode.usage,
    );
    assert.match(error.message, /--engine-label "no-equals-sign" must be key=value/);
    assert.deepEqual(driver.calls, []);
    assert.deepEqual(await storeContents(moor, 'web'), { top: [], machine: false });
  });

  it('a name longer than 63 characters (exit 2), saying the limit and the length; 63 is accepted', async () => {
    const driver = fakeDriver();
    const moor = await newMoor();
    for (const length of [64, 240, 300]) {
      const name = 'a'.repeat(length);
      const error = await failure(
        moor.create({ name, driver: driver.name, driverFlags: {} }),
        'INVALID_NAME',
        ExitCode.usage,
      );
      assert.match(error.message, new RegExp(`it is ${length} characters long; the limit is 63`));
      assert.match(error.message, /hostname/);
      assert.doesNotMatch(error.message, /use letters, digits/);
    }
    assert.deepEqual(driver.calls, []);
    assert.deepEqual((await storeContents(moor, 'x')).top, []);
    await moor.create({ name: 'b'.repeat(63), driver: driver.name, driverFlags: {} });
    assert.equal(await moor.store.exists('b'.repeat(63)), true);
  });

  it('a bad name says what is wrong with it: the character, or how it must start', async () => {
    const driver = fakeDriver();
    const moor = await newMoor();
    const cases: [string, RegExp][] = [
      ['web_1', /Invalid machine name "web_1": "_" is not allowed: use letters, digits, "\." and "-"\./],
      ['wé', /"é" is not allowed/],
      ['.web', /Invalid machine name "\.web": it must start with a letter or digit, not "\."\./],
      ['', /the name is empty/],
    ];
    for (const [name, message] of cases) {
      const error = await failure(moor.create({ name, driver: driver.name, driverFlags: {} }), 'INVALID_NAME', 2);
      assert.match(error.message, message, name);
    }
    assert.deepEqual(driver.calls, []);
  });

  it('engine options provisioning would refuse (exit 2), naming the flag and the value, before the driver is asked', async () => {
    const driver = fakeDriver({ provisions: true });
    const moor = await newMoor();
    const cases: [Partial<EngineOptions>, RegExp][] = [
      [{ ArbitraryFlags: ['debug=maybe'] }, /--engine-opt debug=maybe: debug takes true or false/],
      [{ ArbitraryFlags: ['mtu=big'] }, /--engine-opt mtu=big: mtu takes a whole number/],
      [{ ArbitraryFlags: ['tlsverify=false'] }, /--engine-opt tlsverify cannot be set/],
      [{ ArbitraryFlags: ['log-opt=novalue'] }, /--engine-opt log-opt=novalue: log-opt takes key=value/],
      [{ ArbitraryFlags: ['bip'] }, /--engine-opt bip needs a value/],
      [
        { ArbitraryFlags: ['storage-driver=vfs'], StorageDriver: 'overlay2' },
        /--engine-opt storage-driver=vfs: storage-driver is set more than once \(it is also set by --engine-storage-driver\)/,
      ],
      [{ Env: ['A=line\nbreak'] }, /--engine-env "A=line\\nbreak" contains a line break/],
    ];
    for (const [engine, message] of cases) {
      const error = await failure(
        moor.create({ name: 'web', driver: driver.name, driverFlags: {}, engine }),
        'USAGE',
        ExitCode.usage,
      );
      assert.match(error.message, message, JSON.stringify(engine));
    }
    assert.deepEqual(driver.calls, []);
    assert.deepEqual(await storeContents(moor, 'web'), { top: [], machine: false });
  });

  it('an engine transport the driver does not support (exit 2), naming the ones it does', async () => {
    const driver = fakeDriver({ transports: ['tls'] });
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {}, engine: { Transport: 'ssh' } }),
      'TRANSPORT_NOT_SUPPORTED',
      ExitCode.usage,
    );
    assert.equal(
      error.message,
      `--engine-transport ssh is not supported by the ${driver.name} driver: it supports tls only.`,
    );
    assert.deepEqual(driver.calls, []);
    assert.deepEqual(await storeContents(moor, 'web'), { top: [], machine: false });
    // A driver that declares nothing supports both.
    const both = fakeDriver();
    await moor.create({ name: 'web', driver: both.name, driverFlags: {}, engine: { Transport: 'ssh' } });
  });

  it("a create that names no transport gets the driver's default (from its flags); a given one wins", async () => {
    const flags = [{ name: 'fake-network', type: 'string' as const, description: 'network', default: 'user' }];
    const driver = fakeDriver({
      flags,
      defaultTransport: (values) => (values['fake-network'] === 'user' ? 'ssh' : 'tls'),
    });
    const moor = await newMoor();
    const user = await moor.create({ name: 'user', driver: driver.name, driverFlags: {} });
    assert.equal(user.HostOptions.EngineOptions.Transport, 'ssh');
    const bridged = await moor.create({ name: 'bridged', driver: driver.name, driverFlags: { 'fake-network': 'br' } });
    assert.equal(bridged.HostOptions.EngineOptions.Transport, 'tls');
    const given = await moor.create({
      name: 'given',
      driver: driver.name,
      driverFlags: {},
      engine: { Transport: 'tls' },
    });
    assert.equal(given.HostOptions.EngineOptions.Transport, 'tls');
    // A driver without a default: nothing recorded, which means tls (as before drivers had defaults).
    const plain = fakeDriver();
    const old = await moor.create({ name: 'plain', driver: plain.name, driverFlags: {} });
    assert.equal(old.HostOptions.EngineOptions.Transport, undefined);
  });

  it("gives the driver the engine's first-boot script for the ssh transport only (with TLS the certificate needs the address)", async () => {
    const driver = fakeDriver({ transports: ['tls', 'ssh'] });
    const moor = await newMoor();
    await moor.create({
      name: 'over-ssh',
      driver: driver.name,
      driverFlags: {},
      engine: { Transport: 'ssh', Labels: ['team=a b'] },
    });
    await moor.create({ name: 'over-tls', driver: driver.name, driverFlags: {}, engine: { Transport: 'tls' } });
    const script = driver.createContexts.get('over-ssh')?.firstBootScript ?? '';
    assert.match(script, /^#!\/bin\/sh\n/);
    assert.match(script, /runs once, at the machine's first boot/);
    assert.match(script, /"team=a b"/, "the machine's engine options");
    assert.match(script, new RegExp(`"provider=${driver.name}"`));
    assert.equal(driver.createContexts.get('over-tls')?.firstBootScript, undefined);
  });

  it('the none driver supports tls only', async () => {
    const moor = await newMoor();
    const error = await failure(
      moor.create({
        name: 'web',
        driver: 'none',
        driverFlags: { url: 'tcp://192.0.2.1:2376' },
        engine: { Transport: 'ssh' },
      }),
      'TRANSPORT_NOT_SUPPORTED',
      ExitCode.usage,
    );
    assert.match(error.message, /the none driver: it supports tls only/);
  });

  it('a machine that exists (exit 5), leaving it as it was', async () => {
    const driver = fakeDriver();
    const moor = await newMoor();
    await moor.create({ name: 'web', driver: driver.name, driverFlags: {} });
    const dir = moor.store.machineDir('web');
    const files = await readdir(dir);
    const before = await Promise.all(files.map((file) => readFile(join(dir, file), 'utf8')));
    const callsBefore = driver.calls.length;

    const other = fakeDriver();
    const error = await failure(
      moor.create({ name: 'web', driver: other.name, driverFlags: {}, tlsSans: ['other.example'] }),
      'MACHINE_EXISTS',
      ExitCode.alreadyExists,
    );
    assert.match(error.message, /Machine "web" already exists/);
    assert.ok(error.suggestions.some((text) => text.includes('moor rm web')));
    assert.deepEqual(await readdir(dir), files);
    assert.deepEqual(await Promise.all(files.map((file) => readFile(join(dir, file), 'utf8'))), before);
    assert.equal(driver.calls.length, callsBefore, 'the existing machine was not touched');
    assert.deepEqual(other.calls, [], 'the new driver was not asked to do anything');
  });

  it('a failing pre-create check (exit 3): nothing written to the store, no host made', async () => {
    const driver = fakeDriver();
    driver.fail('preCreateCheck', new Error('no quota left in region x'));
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {} }),
      'PRE_CREATE_CHECK',
      ExitCode.preCreateCheck,
    );
    assert.equal(error.message, 'Pre-create check failed: no quota left in region x');
    assert.deepEqual(driver.callsFor('web'), ['preCreateCheck']);
    // No record, and not even the store's CA: that is made after the checks.
    assert.deepEqual(await storeContents(moor, 'web'), { top: [], machine: false });
  });

  it('a pre-create check failing with a usage error keeps its exit code (2)', async () => {
    const driver = fakeDriver();
    driver.fail('preCreateCheck', new UsageError('--fake-size must be at least 1.'));
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {} }),
      'USAGE',
      ExitCode.usage,
    );
    assert.equal(error.message, '--fake-size must be at least 1.');
    assert.equal(await moor.store.exists('web'), false);
  });
});

describe('createMachine after the record was written', () => {
  it("create() fails: the record is kept in Phase 'error' with LastError, and rm -y is suggested", async () => {
    const driver = fakeDriver();
    driver.fail('create', new Error('the API said no'));
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {} }),
      'CREATE_FAILED',
      ExitCode.failure,
    );
    assert.equal(error.message, 'Creating machine "web" failed: the API said no');
    assert.ok(
      error.suggestions.some((text) => text.includes('moor rm -y web')),
      error.suggestions.join('\n'),
    );
    const record = await moor.store.load('web');
    assert.equal(record.Phase, 'error');
    assert.equal(record.LastError, 'the API said no');
    assert.deepEqual(driver.callsFor('web'), ['preCreateCheck', 'create']);
  });

  it('create() fails with a MoorError: its code, exit code and suggestions come through', async () => {
    const driver = fakeDriver({ removeOnFailedCreate: true });
    driver.fail('create', new MoorError('Quota exceeded.', { code: 'QUOTA', suggestions: ['Ask for more.'] }));
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {} }),
      'QUOTA',
      ExitCode.failure,
    );
    assert.ok(error.suggestions.includes('Ask for more.'));
    assert.ok(error.suggestions.some((text) => text.includes('moor rm -y web')));
    // The host was never made, so there is nothing to remove: the record stays, in Error.
    assert.equal((await moor.store.load('web')).Phase, 'error');
    assert.ok(!driver.callsFor('web').includes('remove'));
  });

  // Provisioning fails at once, before any SSH: the fake host has no SSH key.
  it('removeOnFailedCreate: a failure after the host was made removes host and record again', async () => {
    const driver = fakeDriver({ provisions: true, removeOnFailedCreate: true });
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {} }),
      'NO_SSH_KEY',
      ExitCode.failure,
    );
    assert.match(error.message, /^Creating machine "web" failed: .*no SSH key.* The machine was removed again\.$/);
    assert.ok(!error.suggestions.some((text) => text.includes('moor rm')), 'nothing left to remove');
    assert.deepEqual(driver.callsFor('web'), ['preCreateCheck', 'create', 'getIP', 'getSSHConfig', 'remove']);
    assert.equal(driver.hosts.has('web'), false, 'the host is gone');
    assert.equal(await moor.store.exists('web'), false, 'the record is gone');
  });

  it('removeOnFailedCreate, but remove() fails too: the record is kept in Error for "moor rm"', async () => {
    const driver = fakeDriver({ provisions: true, removeOnFailedCreate: true });
    driver.fail('remove', new Error('instance is protected'));
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {} }),
      'NO_SSH_KEY',
      ExitCode.failure,
    );
    assert.doesNotMatch(error.message, /removed again/);
    assert.ok(error.suggestions.some((text) => text.includes('moor rm -y web')));
    assert.deepEqual(driver.callsFor('web').slice(-1), ['remove']);
    assert.equal(driver.hosts.has('web'), true, 'the host is still there');
    const record = await moor.store.load('web');
    assert.equal(record.Phase, 'error');
    assert.match(record.LastError ?? '', /no SSH key/);
  });

  it('without removeOnFailedCreate, the same failure keeps host and record', async () => {
    const driver = fakeDriver({ provisions: true });
    const moor = await newMoor();
    await failure(moor.create({ name: 'web', driver: driver.name, driverFlags: {} }), 'NO_SSH_KEY', ExitCode.failure);
    assert.ok(!driver.callsFor('web').includes('remove'));
    assert.equal(driver.hosts.has('web'), true);
    assert.equal((await moor.store.load('web')).Phase, 'error');
  });
});

describe('createMachine succeeds', () => {
  it("writes the record in Phase 'created', the certificates, and private modes (0600 files, 0700 folder)", async () => {
    const driver = fakeDriver({ ip: '192.0.2.44' });
    const moor = await newMoor();
    const record = await moor.create({
      name: 'web',
      driver: driver.name,
      driverFlags: {},
      engine: { Labels: ['env=test'] },
      tlsSans: ['web.example'],
    });
    assert.equal(record.Phase, 'created');
    assert.equal(record.LastError, undefined);
    assert.deepEqual(await moor.store.load('web'), record, 'the returned record is the stored one');
    assert.equal(record.ConfigVersion, CONFIG_VERSION);
    assert.equal(record.Name, 'web');
    assert.equal(record.DriverName, driver.name);
    assert.deepEqual(record.Driver, { IPAddress: '192.0.2.44' });
    assert.deepEqual(record.HostOptions.EngineOptions.Labels, ['env=test']);
    assert.deepEqual(record.HostOptions.AuthOptions.ServerCertSANs, ['web.example']);
    assert.deepEqual(driver.callsFor('web'), ['preCreateCheck', 'create', 'getIP']);
    assert.deepEqual(driver.host('web'), { state: 'Running', ip: '192.0.2.44' });

    const dir = moor.store.machineDir('web');
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files, ['ca.pem', 'cert.pem', 'config.json', 'key.pem', 'server-key.pem', 'server.pem']);
    for (const file of files) {
      assert.equal((await stat(join(dir, file))).mode & 0o777, 0o600, `${file} is private`);
    }
  });
});

describe('a driver whose create() makes nothing (recordsOnly, as the none driver)', () => {
  it('writes the machine folder once, whole and final: Phase created, server certificate included', async () => {
    const driver = fakeDriver({ recordsOnly: true, ip: '192.0.2.45' });
    const moor = await newMoor();
    const writes: string[] = [];
    const store = moor.store;
    const add = store.add.bind(store);
    store.add = async (record, files) => {
      writes.push(`add ${record.Phase} ${(files ?? []).map((file) => file.name).join(',')}`);
      return add(record, files);
    };
    store.writeMachineFiles = async (name, files) => {
      writes.push(`write ${name} ${files.map((file) => file.name).join(',')}`);
      assert.fail('a records-only create writes into the machine folder after adding it');
    };
    const record = await moor.create({ name: 'web', driver: driver.name, driverFlags: {}, tlsSans: ['web.example'] });
    assert.deepEqual(writes, ['add created ca.pem,cert.pem,key.pem,server.pem,server-key.pem']);
    assert.equal(record.Phase, 'created');
    assert.deepEqual(await moor.store.load('web'), record);
    assert.deepEqual(record.Driver, { IPAddress: '192.0.2.45' });
    assert.deepEqual(driver.callsFor('web'), ['preCreateCheck', 'create', 'getIP']);
    const dir = moor.store.machineDir('web');
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files, ['ca.pem', 'cert.pem', 'config.json', 'key.pem', 'server-key.pem', 'server.pem']);
    for (const file of files) {
      assert.equal((await stat(join(dir, file))).mode & 0o777, 0o600, `${file} is private`);
    }
    const { describeCertificate } = await import('../../src/core/certs.js');
    const server = describeCertificate(await readFile(join(dir, 'server.pem'), 'utf8'));
    assert.deepEqual(server.ipAddresses, ['192.0.2.45']);
    assert.deepEqual(server.dnsNames.sort(), ['localhost', 'web.example']);
  });

  it('a failing create() leaves nothing: no record in Error, exit 1', async () => {
    const driver = fakeDriver({ recordsOnly: true });
    driver.fail('create', new Error('the URL went away'));
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {} }),
      'CREATE_FAILED',
      ExitCode.failure,
    );
    assert.equal(error.message, 'Creating machine "web" failed: the URL went away Nothing was created.');
    assert.equal(await moor.store.exists('web'), false);
    const left = await readdir(moor.store.machinesDir).catch(() => []);
    assert.deepEqual(left, [], 'no staging folder is left');
  });

  it('an interrupt at create(): nothing was created, exit 130', async () => {
    const driver = fakeDriver({ recordsOnly: true });
    const signal = interruptAt(driver, 'create');
    const moor = await newMoor();
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {}, signal }),
      'INTERRUPTED',
      ExitCode.interrupted,
    );
    assert.match(error.message, /^Creating machine "web" was interrupted \(SIGINT\): nothing was created\.$/);
    assert.equal(await moor.store.exists('web'), false);
  });
});

describe('machines with names longer than 63 characters, from an older moor', () => {
  it('still load, list, inspect and are removed (the 63 limit is for new names only)', async () => {
    const driver = fakeDriver();
    const moor = await newMoor();
    const name = `old-${'x'.repeat(96)}`;
    // What an older moor wrote: a record with the long name (create refuses it now).
    await failure(moor.create({ name, driver: driver.name, driverFlags: {} }), 'INVALID_NAME', ExitCode.usage);
    driver.hosts.set(name, { state: 'Running', ip: '192.0.2.20' });
    await moor.store.add(fakeRecord(driver, name, { driverState: { IPAddress: '192.0.2.20' } }));
    assert.equal((await moor.store.load(name)).Name, name);
    const items = await moor.list({ timeoutMs: 1_000, queryDockerVersion: false, activeContext: '' });
    assert.deepEqual(
      items.map((item) => item.Name),
      [name],
    );
    assert.equal((await moor.inspect(name)).Name, name);
    await moor.remove([name], false);
    assert.equal(await moor.store.exists(name), false);
  });
});

describe('the SSH timeout of a machine', () => {
  it('create records --ssh-timeout in the record (seconds), for provision to reuse', async () => {
    const driver = fakeDriver();
    const moor = await newMoor();
    const record = await moor.create({ name: 'web', driver: driver.name, driverFlags: {}, sshTimeoutMs: 45_000 });
    assert.equal(record.SSHTimeout, 45);
    assert.equal((await moor.store.load('web')).SSHTimeout, 45);
  });

  it('provision waits for SSH as long as the record says (SSHTimeout), unless --ssh-timeout is given', async () => {
    const driver = fakeDriver({ provisions: true });
    const moor = await newMoor();
    const keyPath = join(moor.store.root, 'id_test');
    await writeFile(keyPath, (await testKeyPair()).private, { mode: 0o600 });
    // A loopback port nobody listens on: refused, which a host a driver made is retried until the budget.
    const port = await closedPort();
    driver.hosts.set('web', {
      state: 'Running',
      ip: '127.0.0.1',
      ssh: { host: '127.0.0.1', port, user: 'root', keyPath },
    });
    await moor.store.add({ ...fakeRecord(driver, 'web', { driverState: { IPAddress: '127.0.0.1' } }), SSHTimeout: 1 });
    const recorded = await failure(moor.provision(['web']), 'TIMEOUT', ExitCode.timeout);
    assert.match(recorded.message, /Timed out after 1 s waiting for SSH on 127\.0\.0\.1:/);
    const given = await failure(moor.provision(['web'], { sshTimeoutMs: 2_000 }), 'TIMEOUT', ExitCode.timeout);
    assert.match(given.message, /Timed out after 2 s waiting for SSH/);
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('an interrupted create (CreateOptions.signal)', () => {
  it('before the record exists: nothing was created, exit 130', async () => {
    const driver = fakeDriver();
    const moor = await newMoor();
    const signal = interruptAt(driver, 'preCreateCheck');
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {}, signal }),
      'INTERRUPTED',
      ExitCode.interrupted,
    );
    assert.match(error.message, /^Creating machine "web" was interrupted \(SIGINT\): nothing was created\.$/);
    assert.equal(await moor.store.exists('web'), false);
    assert.deepEqual(driver.callsFor('web'), ['preCreateCheck']);
  });

  it('a driver that removes failed creates: the host and the record are removed, and it says so', async () => {
    const driver = fakeDriver({ removeOnFailedCreate: true });
    const moor = await newMoor();
    const signal = interruptAt(driver, 'create');
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {}, signal }),
      'INTERRUPTED',
      ExitCode.interrupted,
    );
    assert.match(error.message, /was interrupted \(SIGINT\)\. What it had made was removed: nothing is left\./);
    assert.equal(await moor.store.exists('web'), false);
    assert.equal(driver.hosts.has('web'), false);
    assert.deepEqual(driver.callsFor('web').slice(-1), ['remove']);
  });

  it('another driver: the record is kept with state Error, and the error says what was kept and what to run', async () => {
    const driver = fakeDriver({ provisions: true });
    const moor = await newMoor();
    const signal = interruptAt(driver, 'create');
    const error = await failure(
      moor.create({ name: 'web', driver: driver.name, driverFlags: {}, signal }),
      'INTERRUPTED',
      ExitCode.interrupted,
    );
    assert.match(error.message, /Kept: the record \(state Error\) and the host, perhaps partly provisioned\./);
    assert.ok(error.suggestions.some((line) => line.includes('moor provision web')));
    const record = await moor.store.load('web');
    assert.equal(record.Phase, 'error');
    assert.match(record.LastError ?? '', /interrupted \(SIGINT\)/);
    assert.ok(driver.hosts.has('web'), 'the host is kept');
    assert.ok(!driver.callsFor('web').includes('getSSHConfig'), 'it stopped before provisioning');
  });
});
