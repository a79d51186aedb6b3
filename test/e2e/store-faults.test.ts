/**
 * The store under faults, through the built CLI: a read-only store (a read-only bind mount: CI runs as root,
 * which ignores file modes), a store on a full file system (a small tmpfs, filled), a store path that is a
 * file, and folders an unprivileged user cannot write (the CLI run as nobody with setpriv). For each,
 * create, ls and rm give one clear error with its code and exit code, nothing is half-written (no staging
 * folders, no lock files, the existing machines intact and listed) and the store's modes are unchanged.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canRun, mountMissing } from '../helpers/prerequisites.js';
import { assertCleanError, assertExit, BIN, parseJson, run, type RunResult, TempStore, walk } from './helpers.js';

const URL = 'tcp://127.0.0.1:2376';
const DEAD_PID = 2 ** 22 + 12345; // above Linux's largest pid_max: never a running process
const NOBODY = 65534;

/** Every path below `root` with its mode (and size, for files): what must not change under a fault. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const result: Record<string, string> = { '.': ((await stat(root)).mode & 0o7777).toString(8) };
  for (const path of await walk(root)) {
    const info = await stat(join(root, path));
    result[path] = `${(info.mode & 0o7777).toString(8)}${info.isFile() ? ` ${info.size}` : ''}`;
  }
  return result;
}

function errorCode(result: RunResult): string {
  return parseJson<{ error: { code: string } }>(result).error.code;
}

/** Hidden entries of machines/ (staging folders) and lock files: what a fault must not leave behind. */
async function leftovers(store: TempStore): Promise<string[]> {
  const machines = (await readdir(store.path('machines'))).filter((entry) => entry.startsWith('.'));
  const locks = await readdir(store.path('locks')).catch(() => []);
  return [...machines, ...locks.map((entry) => `locks/${entry}`)];
}

async function assertListed(store: TempStore, names: string[], as?: (args: string[]) => Promise<RunResult>) {
  const result = await (as ?? ((args) => store.moor(args)))(['ls', '-q']);
  assertExit(result, 0, 'ls -q');
  assert.deepEqual(result.stdout.split('\n').filter(Boolean).sort(), names);
}

describe('a store path that is a file', () => {
  let store: TempStore;
  let file: string;
  before(async () => {
    store = await TempStore.create();
    file = store.path('store');
    await writeFile(file, 'not a store\n', { mode: 0o640 });
  });
  after(() => store.cleanup());

  for (const args of [['create', '-d', 'none', '--url', URL, 'x'], ['ls'], ['rm', '-y', 'x']]) {
    it(`moor ${args[0]}: STORE_NOT_A_DIRECTORY, exit 1, the file untouched`, async () => {
      const env = { MOOR_STORAGE_PATH: file };
      const before = await snapshot(store.root);
      const text = await store.moor(args, { env });
      assertCleanError(text, 1, `moor cannot use its store: ${file} is a file, not a folder.`, `Move ${file} aside`);
      const json = await store.moor([...args, '--json'], { env });
      assertExit(json, 1);
      assert.equal(errorCode(json), 'STORE_NOT_A_DIRECTORY');
      assert.deepEqual(await snapshot(store.root), before);
    });
  }
});

describe('ls finishes or rolls back what a crashed moor left in the store', () => {
  let store: TempStore;
  before(async () => {
    store = await TempStore.create();
    await store.createNone('a', URL);
  });
  after(() => store.cleanup());

  it("a dead rm's .rm-NAME-* is deleted, a dead create's .new-NAME-* is deleted, the machines stay", async () => {
    const removing = store.path('machines', `.rm-gone-${DEAD_PID}-abc123`);
    await mkdir(removing);
    await writeFile(join(removing, 'key.pem'), 'x');
    const adding = store.path('machines', `.new-half-${DEAD_PID}-def456`);
    await mkdir(adding);
    await writeFile(join(adding, 'ca.pem'), 'x');
    await assertListed(store, ['a']);
    assert.deepEqual(await leftovers(store), []);
  });
});

describe('the store under mounts (read-only, full)', () => {
  if (!canRun('the store under mounts (read-only, full)', mountMissing())) return;
  const mounts: string[] = [];
  const stores: TempStore[] = [];
  after(async () => {
    for (const target of mounts.reverse()) spawnSync('umount', ['-l', target]);
    for (const store of stores) await store.cleanup();
  });

  describe('a read-only store (read-only bind mount)', () => {
    let store: TempStore;
    let before_: Record<string, string>;
    before(async () => {
      store = await TempStore.create();
      stores.push(store);
      await store.createNone('a', URL);
      execFileSync('mount', ['--bind', store.root, store.root]);
      mounts.push(store.root);
      execFileSync('mount', ['-o', 'remount,ro,bind', store.root]);
      before_ = await snapshot(store.root);
    });

    it('create: STORE_NOT_WRITABLE, exit 1, naming the read-only file system', async () => {
      const result = await store.moor(['create', '-d', 'none', '--url', URL, 'x']);
      assertCleanError(result, 1, 'moor cannot write to its store: ', 'is on a read-only file system', 'Remount');
      assert.equal(
        errorCode(await store.moor(['create', '-d', 'none', '--url', URL, 'x', '--json'])),
        'STORE_NOT_WRITABLE',
      );
    });

    it('ls: lists the machines, exit 0', async () => {
      await assertListed(store, ['a']);
    });

    it('rm -y of an existing and of a missing machine: STORE_NOT_WRITABLE, exit 1, the machine intact', async () => {
      for (const name of ['a', 'x']) {
        const result = await store.moor(['rm', '-y', name]);
        assertCleanError(result, 1, 'is on a read-only file system');
        assert.equal(errorCode(await store.moor(['rm', '-y', name, '--json'])), 'STORE_NOT_WRITABLE');
      }
      await assertListed(store, ['a']);
    });

    it('nothing changed: same files, same modes, no staging folders or locks', async () => {
      assert.deepEqual(await snapshot(store.root), before_);
      assert.deepEqual(await leftovers(store), []);
    });
  });

  describe('an empty read-only store (nothing in it yet)', () => {
    it('create: STORE_NOT_WRITABLE, exit 1, nothing created', async () => {
      const store = await TempStore.create();
      stores.push(store);
      await chmod(store.root, 0o755);
      execFileSync('mount', ['--bind', store.root, store.root]);
      mounts.push(store.root);
      execFileSync('mount', ['-o', 'remount,ro,bind', store.root]);
      const result = await store.moor(['create', '-d', 'none', '--url', URL, 'x']);
      assertCleanError(result, 1, 'is on a read-only file system');
      assert.deepEqual(await readdir(store.root), []);
      assert.equal((await stat(store.root)).mode & 0o777, 0o755);
    });
  });

  describe('a store on a full file system (a 64 KiB tmpfs, filled)', () => {
    let store: TempStore;
    let before_: Record<string, string>;
    let fill: string;
    before(async () => {
      store = await TempStore.create();
      stores.push(store);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', store.root]);
      mounts.push(store.root);
      await store.createNone('a', URL);
      fill = store.path('fill');
      // dd stops at ENOSPC (and exits non-zero for it): the file system is then full.
      spawnSync('dd', ['if=/dev/zero', `of=${fill}`, 'bs=1024'], { stdio: 'ignore' });
      before_ = await snapshot(store.root);
    });

    it('create: STORE_FULL, exit 1, no staging folder and no lock left', async () => {
      const result = await store.moor(['create', '-d', 'none', '--url', URL, 'x']);
      assertCleanError(result, 1, 'no space left on the file system of', 'Free some space there');
      assert.equal(errorCode(await store.moor(['create', '-d', 'none', '--url', URL, 'x', '--json'])), 'STORE_FULL');
      assert.deepEqual(await leftovers(store), []);
    });

    it('ls: lists the machines, exit 0', async () => {
      await assertListed(store, ['a']);
    });

    it('rm -y: STORE_FULL, exit 1, the machine intact and no lock left behind', async () => {
      const result = await store.moor(['rm', '-y', 'a']);
      assertCleanError(result, 1, 'no space left on the file system of');
      assert.equal(errorCode(await store.moor(['rm', '-y', 'x', '--json'])), 'STORE_FULL');
      await assertListed(store, ['a']);
      assert.deepEqual(await leftovers(store), []);
      assert.deepEqual(await snapshot(store.root), before_);
    });

    it('once there is space again, rm works at once (no lock of a failed command in the way)', async () => {
      await rm(fill);
      assertExit(await store.moor(['rm', '-y', 'a']), 0, 'rm -y a');
      await assertListed(store, []);
    });
  });
});

describe('folders an unprivileged user cannot write (the CLI run as nobody)', () => {
  const missing =
    process.getuid?.() !== 0
      ? 'running the CLI as another user needs root'
      : spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status !== 0
        ? 'setpriv is not installed (util-linux)'
        : undefined;
  if (!canRun('folders an unprivileged user cannot write', missing)) return;

  let store: TempStore;
  const asNobody = (args: string[]) =>
    run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, BIN, ...args], {
      env: { MOOR_STORAGE_PATH: store.root, HOME: store.root },
    });
  before(async () => {
    store = await TempStore.create();
    await store.createNone('a', URL);
    await store.createNone('b', URL);
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, store.root]);
  });
  after(() => store.cleanup());

  it('rm of a machine whose folder it cannot write: STORE_NOT_WRITABLE, exit 1, the machine intact and listed', async () => {
    const dir = store.machineDir('a');
    await chmod(dir, 0o500);
    const before = await snapshot(store.root);
    const result = await asNobody(['rm', '-y', 'a']);
    assertCleanError(
      result,
      1,
      `moor cannot write to its store: permission denied for ${dir}.`,
      `Check the permissions of ${dir}`,
    );
    assert.equal(errorCode(await asNobody(['rm', '-y', 'a', '--json'])), 'STORE_NOT_WRITABLE');
    await assertListed(store, ['a', 'b'], asNobody);
    assert.deepEqual(await leftovers(store), []);
    assert.deepEqual(await snapshot(store.root), before);
    await chmod(dir, 0o700);
    assertExit(await asNobody(['rm', '-y', 'a']), 0, 'rm -y a once writable');
    await assertListed(store, ['b'], asNobody);
  });

  it('a store its owner made read-only stays read-only: create fails with STORE_NOT_WRITABLE, modes unchanged', async () => {
    for (const path of [store.root, store.path('machines'), store.path('certs'), store.path('locks')]) {
      await chmod(path, 0o500);
    }
    const before = await snapshot(store.root);
    const result = await asNobody(['create', '-d', 'none', '--url', URL, 'x']);
    assertCleanError(result, 1, 'moor cannot write to its store: permission denied for');
    assert.equal(errorCode(await asNobody(['rm', '-y', 'b', '--json'])), 'STORE_NOT_WRITABLE');
    await assertListed(store, ['b'], asNobody);
    assert.deepEqual(await snapshot(store.root), before);
    for (const path of [store.root, store.path('machines'), store.path('certs'), store.path('locks')]) {
      await chown(path, NOBODY, NOBODY);
      await chmod(path, 0o700);
    }
  });
});
