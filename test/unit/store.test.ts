import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BadConfigError,
  MachineExistsError,
  MachineNotFoundError,
  InvalidNameError,
  TimeoutError,
} from '../../src/core/errors.js';
import {
  CONFIG_VERSION,
  defaultEngineOptions,
  isValidName,
  type MachineRecord,
  validateRecord,
} from '../../src/core/machine.js';
import { Store } from '../../src/core/store.js';

function record(name: string, overrides: Partial<MachineRecord> = {}): MachineRecord {
  return {
    ConfigVersion: CONFIG_VERSION,
    Name: name,
    DriverName: 'none',
    CreatedAt: new Date().toISOString(),
    Phase: 'created',
    Driver: { URL: 'tcp://10.0.0.1:2376' },
    HostOptions: { EngineOptions: defaultEngineOptions(), AuthOptions: { ServerCertSANs: [] } },
    ...overrides,
  };
}

describe('machine names', () => {
  it('accepts what docker-machine accepts', () => {
    for (const name of ['web', 'Web-1', 'a', '0', 'db.prod', 'x-y.z9']) assert.ok(isValidName(name), name);
  });
  it('rejects the rest', () => {
    for (const name of ['', '-web', '.web', 'web_1', 'web 1', 'wé', 'a/b', '../x', 'web$'])
      assert.ok(!isValidName(name), name);
  });
});

describe('Store', () => {
  let root: string;
  let store: Store;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'moor-store-'));
    store = new Store(join(root, 'store'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('creates its folders 0700 and writes config 0600', async () => {
    await store.add(record('web'), [{ name: 'key.pem', data: 'secret' }]);
    for (const dir of [store.root, store.machinesDir, store.certsDir, store.machineDir('web')]) {
      assert.equal((await stat(dir)).mode & 0o777, 0o700, dir);
    }
    assert.equal((await stat(store.configPath('web'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(store.machineDir('web'), 'key.pem'))).mode & 0o777, 0o600);
    assert.deepEqual(await store.load('web'), record('web', { CreatedAt: (await store.load('web')).CreatedAt }));
  });

  it('refuses a duplicate and leaves the first record untouched', async () => {
    const before = await readFile(store.configPath('web'), 'utf8');
    await assert.rejects(store.add(record('web', { DriverName: 'other' })), MachineExistsError);
    assert.equal(await readFile(store.configPath('web'), 'utf8'), before);
    assert.deepEqual(
      (await readdir(store.machinesDir)).filter((entry) => entry.startsWith('.')),
      [],
    );
  });

  it('reports a missing machine with the documented message', async () => {
    await assert.rejects(store.load('nope'), (error: Error) => {
      assert.ok(error instanceof MachineNotFoundError);
      assert.equal(error.message, 'Machine "nope" does not exist. Run "moor ls" to list machines.');
      return true;
    });
  });

  it('rejects an invalid name before touching the disk', async () => {
    await assert.rejects(store.load('../etc'), InvalidNameError);
  });

  it('isolates a corrupt config to its own machine', async () => {
    await store.add(record('good'));
    await mkdir(store.machineDir('broken'), { mode: 0o700 });
    await writeFile(store.configPath('broken'), '{"ConfigVersion": 1, "Name": "broken"', { mode: 0o600 });
    await mkdir(store.machineDir('future'), { mode: 0o700 });
    await writeFile(store.configPath('future'), JSON.stringify({ ...record('future'), ConfigVersion: 99 }));
    await mkdir(store.machineDir('empty'), { mode: 0o700 });
    const all = await store.loadAll();
    const byName = new Map(all.map((entry) => [entry.name, entry]));
    assert.ok(byName.get('good')?.record);
    assert.ok(byName.get('web')?.record);
    assert.ok(byName.get('broken')?.error instanceof BadConfigError);
    assert.match(byName.get('broken')!.error!.message, /invalid JSON/);
    assert.match(byName.get('future')!.error!.message, /newer moor/);
    assert.match(byName.get('empty')!.error!.message, /config.json is missing/);
    assert.equal(byName.get('broken')!.error!.exitCode, 4);
  });

  it('validates field types', () => {
    assert.equal(validateRecord(record('a'), 'a'), undefined);
    assert.match(validateRecord(record('a'), 'b')!, /expected "b"/);
    assert.match(validateRecord({ ...record('a'), Phase: 'weird' }, 'a')!, /Phase/);
    const bad = record('a');
    (bad.HostOptions.EngineOptions as unknown as Record<string, unknown>)['Labels'] = 'x=y';
    assert.match(validateRecord(bad, 'a')!, /Labels/);
    assert.match(validateRecord([], 'a')!, /JSON object/);
  });

  it('saves atomically and removes a machine completely', async () => {
    const r = await store.load('good');
    r.Phase = 'error';
    r.LastError = 'boom';
    await store.save(r);
    assert.equal((await store.load('good')).LastError, 'boom');
    assert.deepEqual((await readdir(store.machineDir('good'))).sort(), ['config.json']);
    await store.remove('good');
    assert.equal(await store.exists('good'), false);
    await assert.rejects(store.remove('good'), MachineNotFoundError);
  });

  it('serialises holders of one machine lock and names the holder on timeout', async () => {
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const holding = new Promise<void>((resolve) => (entered = resolve));
    const first = store.withMachineLock('web', 'create', async () => {
      order.push('first-in');
      entered();
      await held;
      order.push('first-out');
    });
    await holding; // the first holder has the lock (not: a moment has passed)
    await assert.rejects(
      store.withMachineLock('web', 'rm', async () => undefined, 50),
      (error: Error) => {
        assert.ok(error instanceof TimeoutError);
        assert.match(error.message, /Machine "web" is busy: process \d+ \(create/);
        return true;
      },
    );
    const second = store.withMachineLock('web', 'stop', async () => order.push('second'));
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first-in', 'first-out', 'second']);
  });

  it('breaks a lock left by a dead process', async () => {
    await store.init();
    const lock = join(store.locksDir, 'machine-web.lock');
    await writeFile(
      lock,
      JSON.stringify({
        pid: 2 ** 22 + 12345,
        host: (await import('node:os')).hostname(),
        operation: 'create',
        since: 'x',
      }),
    );
    let ran = false;
    await store.withMachineLock('web', 'rm', async () => (ran = true), 1000);
    assert.ok(ran);
  });
});
