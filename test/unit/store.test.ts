import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BadConfigError,
  MachineExistsError,
  MachineNotFoundError,
  InvalidNameError,
  StoreError,
  TimeoutError,
} from '../../src/core/errors.js';
import {
  CONFIG_VERSION,
  defaultEngineOptions,
  isValidName,
  type MachineRecord,
  validateRecord,
} from '../../src/core/machine.js';
import { Store, storeError } from '../../src/core/store.js';
import { canRun, mountMissing } from '../helpers/prerequisites.js';

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

const DEAD_PID = 2 ** 22 + 12345; // above Linux's largest pid_max: never a running process

/** A real error of a file system call, for the mapping tests. */
async function fsErrorOf(call: () => Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await call();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('the call did not fail');
}

/** An error as Node's fs raises it, for codes that need a fault this process cannot cause (EROFS as root, ENOSPC). */
function errnoError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const error = new Error(`${code}: ${syscall} '${path ?? ''}'`) as NodeJS.ErrnoException;
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  return error;
}

describe('storeError: one StoreError per file system fault', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'moor-store-errors-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  async function mapped(error: unknown, access: 'read' | 'write' = 'write', where?: string): Promise<StoreError> {
    const result = await storeError(error, access, where);
    assert.ok(result instanceof StoreError, `not a StoreError: ${String(result)}`);
    return result;
  }

  it('a store path that is a file: STORE_NOT_A_DIRECTORY naming the file (ENOTDIR and mkdir EEXIST)', async () => {
    const file = join(root, 'file');
    await writeFile(file, 'x');
    const below = await mapped(await fsErrorOf(() => readdir(join(file, 'machines'))), 'read');
    const itself = await mapped(await fsErrorOf(() => mkdir(file, { recursive: true })));
    for (const error of [below, itself]) {
      assert.equal(error.code, 'STORE_NOT_A_DIRECTORY');
      assert.equal(error.exitCode, 1);
      assert.equal(error.path, file);
      assert.equal(error.message, `moor cannot use its store: ${file} is a file, not a folder.`);
      assert.deepEqual(error.suggestions, [
        `Move ${file} aside, or use --storage-path / MOOR_STORAGE_PATH for a store elsewhere.`,
      ]);
    }
  });

  it('a name too long for the file system: NAME_TOO_LONG_FOR_STORE, a usage error', async () => {
    const long = join(root, 'x'.repeat(300));
    const error = await mapped(await fsErrorOf(() => writeFile(long, 'x')));
    assert.equal(error.code, 'NAME_TOO_LONG_FOR_STORE');
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /is too long for the file system of moor's store/);
    assert.match(error.suggestions[0]!, /shorter machine name/);
  });

  it('permission denied: STORE_NOT_WRITABLE or STORE_NOT_READABLE, naming the path and the fix', async () => {
    for (const code of ['EACCES', 'EPERM']) {
      const write = await mapped(errnoError(code, 'open', '/s/machines/web/config.json'));
      assert.equal(write.code, 'STORE_NOT_WRITABLE');
      assert.equal(write.exitCode, 1);
      assert.equal(write.message, 'moor cannot write to its store: permission denied for /s/machines/web/config.json.');
      assert.deepEqual(write.suggestions, [
        'Check the permissions of /s/machines/web/config.json and of its folders, or use --storage-path / MOOR_STORAGE_PATH for another store.',
      ]);
      assert.equal((await mapped(errnoError(code, 'scandir', '/s/machines'), 'read')).code, 'STORE_NOT_READABLE');
    }
  });

  it('a read-only file system: STORE_NOT_WRITABLE with the remount hint', async () => {
    const error = await mapped(errnoError('EROFS', 'open', '/s/locks/machine-web.lock'));
    assert.equal(error.code, 'STORE_NOT_WRITABLE');
    assert.equal(
      error.message,
      'moor cannot write to its store: /s/locks/machine-web.lock is on a read-only file system.',
    );
    assert.match(error.suggestions[0]!, /^Remount that file system read-write, or use --storage-path/);
  });

  it('a full disk: STORE_FULL, naming the folder written when write(2) names no path', async () => {
    const error = await mapped(errnoError('ENOSPC', 'write'), 'write', '/s/machines');
    assert.equal(error.code, 'STORE_FULL');
    assert.equal(error.path, '/s/machines');
    assert.match(error.message, /no space left on the file system of \/s\/machines\. Nothing was changed\.$/);
    assert.equal((await mapped(errnoError('EDQUOT', 'write', '/s/x'))).code, 'STORE_FULL');
  });

  it('any other file system error: STORE_IO_ERROR; anything else passes through unchanged', async () => {
    assert.equal((await mapped(errnoError('EIO', 'read', '/s/x'), 'read')).code, 'STORE_IO_ERROR');
    const moorError = new MachineNotFoundError('web');
    assert.equal(await storeError(moorError, 'read'), moorError);
    const plain = new Error('not from fs');
    assert.equal(await storeError(plain, 'read'), plain);
  });
});

describe('Store on a real file system: permissions, staging, rollback', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'moor-store-faults-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('never changes the mode of a folder it did not create, and creates its own 0700', async () => {
    const store = new Store(join(root, 'loose'));
    await mkdir(store.root, { mode: 0o755 });
    await chmod(store.root, 0o755);
    await store.add(record('web'));
    assert.equal((await stat(store.root)).mode & 0o777, 0o755);
    for (const dir of [store.machinesDir, store.certsDir, store.locksDir, store.machineDir('web')]) {
      assert.equal((await stat(dir)).mode & 0o777, 0o700, dir);
    }
    await chmod(store.machinesDir, 0o750);
    await store.add(record('db'));
    await store.withMachineLock('db', 'test', async () => undefined);
    assert.equal((await stat(store.machinesDir)).mode & 0o777, 0o750);
  });

  it('creates missing parent folders 0700 too, and leaves the existing ancestor alone', async () => {
    const parent = join(root, 'parent');
    await mkdir(parent, { mode: 0o755 });
    await chmod(parent, 0o755);
    const store = new Store(join(parent, 'a', 'b'));
    await store.init();
    assert.equal((await stat(parent)).mode & 0o777, 0o755);
    assert.equal((await stat(join(parent, 'a'))).mode & 0o777, 0o700);
    assert.equal((await stat(store.root)).mode & 0o777, 0o700);
  });

  it('a store path that is a file: every method fails with STORE_NOT_A_DIRECTORY and nothing is written', async () => {
    const file = join(root, 'store-file');
    await writeFile(file, 'not a store');
    const store = new Store(file);
    const failures: [string, () => Promise<unknown>][] = [
      ['names', () => store.names()],
      ['loadAll', () => store.loadAll()],
      ['init', () => store.init()],
      ['add', () => store.add(record('web'))],
      ['withMachineLock', () => store.withMachineLock('web', 'rm', async () => undefined)],
      ['remove', () => store.remove('web')],
      ['save', () => store.save(record('web'))],
    ];
    for (const [what, call] of failures) {
      await assert.rejects(call, (error: Error) => {
        if (what === 'remove') return error instanceof MachineNotFoundError;
        assert.ok(error instanceof StoreError, `${what}: ${error.message}`);
        assert.equal(error.code, 'STORE_NOT_A_DIRECTORY', what);
        assert.equal(error.path, file, what);
        return true;
      });
    }
    assert.equal(await readFile(file, 'utf8'), 'not a store');
    assert.equal(await store.exists('web'), false);
  });

  it("ls finishes what dead processes left: .rm-* deleted, .new-* deleted, a live process's staging kept", async () => {
    const store = new Store(join(root, 'staging'));
    await store.add(record('web'));
    const machines = store.machinesDir;
    await mkdir(join(machines, `.rm-gone-${DEAD_PID}-ab1`, 'sub'), { recursive: true });
    await writeFile(join(machines, `.rm-gone-${DEAD_PID}-ab1`, 'sub', 'key.pem'), 'x');
    await mkdir(join(machines, `.new-half-${DEAD_PID}-cd2`));
    await writeFile(join(machines, `.new-half-${DEAD_PID}-cd2`, 'ca.pem'), 'x');
    await mkdir(join(machines, `.new-busy-${process.pid}-ef3`));
    await writeFile(join(machines, '.keep-me'), 'not moor staging');
    assert.deepEqual(await store.names(), ['web']);
    assert.deepEqual((await readdir(machines)).sort(), [`.keep-me`, `.new-busy-${process.pid}-ef3`, 'web']);
  });

  it('a machine write deletes the temp files dead writers left in its folder, not those of live ones', async () => {
    const store = new Store(join(root, 'temps'));
    await store.add(record('web'));
    const dead = join(store.machineDir('web'), `config.json.tmp-${DEAD_PID}-1abc`);
    const live = join(store.machineDir('web'), `config.json.tmp-${process.pid}-2abc`);
    await writeFile(dead, '{');
    await writeFile(live, '{');
    await store.save(record('web', { Phase: 'error' }));
    assert.deepEqual((await readdir(store.machineDir('web'))).sort(), [
      'config.json',
      `config.json.tmp-${process.pid}-2abc`,
    ]);
    assert.equal((await store.load('web')).Phase, 'error');
  });

  it('an add that fails half-way leaves no staging folder and no machine', async () => {
    const store = new Store(join(root, 'half-add'));
    await assert.rejects(
      store.add(record('web'), [{ name: 'x'.repeat(300), data: 'too long a file name' }]),
      (error: Error) => error instanceof StoreError && error.code === 'NAME_TOO_LONG_FOR_STORE',
    );
    assert.deepEqual(await readdir(store.machinesDir), []);
    assert.equal(await store.exists('web'), false);
  });
});

describe('Store under mounts (a folder that cannot be deleted, a read-only store)', () => {
  if (!canRun('Store under mounts', mountMissing())) return;
  let root: string;
  const mounts: string[] = [];
  async function mountAt(args: string[], target: string): Promise<void> {
    execFileSync('mount', [...args, target]);
    mounts.push(target);
  }
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'moor-store-mounts-'));
  });
  after(async () => {
    for (const target of mounts.reverse()) spawnSync('umount', ['-l', target]);
    await rm(root, { recursive: true, force: true });
  });

  it('rm of a machine with a read-only folder inside fails before anything changed, and the machine stays', async () => {
    const store = new Store(join(root, 'ro-inside'));
    await store.add(record('web'), [{ name: 'key.pem', data: 'secret' }]);
    const sub = join(store.machineDir('web'), 'disk');
    await mkdir(sub);
    await writeFile(join(sub, 'file'), 'data');
    await mountAt(['--bind', sub], sub);
    execFileSync('mount', ['-o', 'remount,ro,bind', sub]);
    await assert.rejects(store.remove('web'), (error: Error) => {
      assert.ok(error instanceof StoreError, error.message);
      assert.equal(error.code, 'STORE_NOT_WRITABLE');
      assert.equal(error.path, sub);
      assert.match(error.message, /is on a read-only file system/);
      return true;
    });
    assert.deepEqual(await store.names(), ['web']);
    assert.deepEqual((await readdir(store.machineDir('web'))).sort(), ['config.json', 'disk', 'key.pem']);
    assert.equal(await readFile(join(sub, 'file'), 'utf8'), 'data');
  });

  it('rm whose deletion fails after the rename puts the folder back under its name (no hidden .rm-* left)', async () => {
    const store = new Store(join(root, 'busy-inside'));
    await store.add(record('web'));
    const sub = join(store.machineDir('web'), 'mnt');
    await mkdir(sub);
    await mountAt(['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs'], sub); // rmdir of a mount point: EBUSY
    await assert.rejects(store.remove('web'), (error: Error) => error instanceof StoreError);
    assert.deepEqual(await store.names(), ['web']);
    assert.ok((await readdir(store.machinesDir)).every((entry) => !entry.startsWith('.')));
  });

  it('a read-only store: writes fail with STORE_NOT_WRITABLE, reads work, modes and files unchanged', async () => {
    const store = new Store(join(root, 'ro-store'));
    await store.add(record('web'));
    await mountAt(['--bind', store.root], store.root);
    execFileSync('mount', ['-o', 'remount,ro,bind', store.root]);
    const before = await readdir(store.root, { recursive: true });
    for (const call of [
      () => store.add(record('db')),
      () => store.save(record('web', { Phase: 'error' })),
      () => store.remove('web'),
      () => store.withMachineLock('web', 'rm', async () => undefined),
    ]) {
      await assert.rejects(call, (error: Error) => error instanceof StoreError && error.code === 'STORE_NOT_WRITABLE');
    }
    assert.deepEqual(await store.names(), ['web']);
    assert.equal((await store.load('web')).Phase, 'created');
    assert.deepEqual(await readdir(store.root, { recursive: true }), before);
    assert.equal((await stat(store.machinesDir)).mode & 0o777, 0o700);
  });
});
