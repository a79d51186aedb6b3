/**
 * scripts/fs-promises-lazy.cjs, node:fs/promises in the fast bundle: every name of the real module, the same
 * results and errors for the calls moor makes, the real module for what it cannot do itself, and the real
 * module not loaded by the calls it answers. And writeNewFile (src/core/fsutil.ts), the descriptor-based
 * write that replaced FileHandle in the store's atomic writes and locks.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as real from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeNewFile } from '../../src/core/fsutil.js';

const SHIM = join(import.meta.dirname, '../../scripts/fs-promises-lazy.cjs');
const shim = createRequire(import.meta.url)(SHIM) as typeof real;

/** What a call settles to, in a form two implementations can be compared by. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    const value = await call();
    if (value && typeof value === 'object' && 'isFile' in value) {
      const stats = value as import('node:fs').Stats;
      return { ok: { isFile: stats.isFile(), size: stats.size, mode: stats.mode, ino: stats.ino } };
    }
    if (Array.isArray(value) && value[0] && typeof value[0] === 'object') {
      return { ok: value.map((entry: import('node:fs').Dirent) => [entry.name, entry.isDirectory()]).sort() };
    }
    return { ok: Array.isArray(value) ? [...value].sort() : value };
  } catch (error) {
    const { code, message, syscall, path } = error as NodeJS.ErrnoException;
    return { error: { code, message, syscall, path } };
  }
}

describe('node:fs/promises in the fast bundle (scripts/fs-promises-lazy.cjs)', () => {
  let dir: string;
  before(async () => {
    dir = await real.mkdtemp(join(tmpdir(), 'moor-fsp-'));
    await real.writeFile(join(dir, 'file'), 'content\n');
    await real.mkdir(join(dir, 'sub'));
  });
  after(() => real.rm(dir, { recursive: true, force: true }));

  it('has every name node:fs/promises has on this Node', () => {
    const missing = Object.keys(real).filter((name) => name !== 'default' && !(name in shim));
    assert.deepEqual(missing, []);
    assert.equal(shim.constants, real.constants);
  });

  it('answers what moor asks as node:fs/promises does: values and errors alike', async () => {
    const file = join(dir, 'file');
    const none = join(dir, 'none');
    const calls: [string, (fs: typeof real) => Promise<unknown>][] = [
      ['readFile utf8', (fs) => fs.readFile(file, 'utf8')],
      ['readFile buffer', (fs) => fs.readFile(file)],
      ['readFile options undefined', (fs) => fs.readFile(file, undefined)],
      ['readFile missing', (fs) => fs.readFile(none, 'utf8')],
      ['readFile of a folder', (fs) => fs.readFile(dir)],
      ['stat', (fs) => fs.stat(file)],
      ['stat missing', (fs) => fs.stat(none)],
      ['lstat', (fs) => fs.lstat(file)],
      ['readdir', (fs) => fs.readdir(dir)],
      ['readdir withFileTypes', (fs) => fs.readdir(dir, { withFileTypes: true })],
      ['readdir missing', (fs) => fs.readdir(none)],
      ['access', (fs) => fs.access(file)],
      ['access missing', (fs) => fs.access(none)],
      ['mkdir existing', (fs) => fs.mkdir(join(dir, 'sub'))],
      ['rm missing', (fs) => fs.rm(none)],
      ['rm missing, force', (fs) => fs.rm(none, { force: true })],
      ['rename missing', (fs) => fs.rename(none, join(dir, 'other'))],
      ['writeFile into a missing folder', (fs) => fs.writeFile(join(none, 'x'), 'x')],
    ];
    for (const [what, call] of calls) {
      assert.deepEqual(await outcome(() => call(shim)), await outcome(() => call(real)), what);
    }
  });

  it('writes, makes folders and removes as node:fs/promises does', async () => {
    const target = join(dir, 'made');
    assert.equal(await shim.mkdir(join(target, 'a', 'b'), { recursive: true, mode: 0o700 }), target);
    await shim.writeFile(join(target, 'w'), 'one', { mode: 0o600 });
    await shim.appendFile(join(target, 'w'), Buffer.from(' two'));
    assert.equal(await real.readFile(join(target, 'w'), 'utf8'), 'one two');
    await shim.chmod(join(target, 'w'), 0o640);
    assert.equal((await real.stat(join(target, 'w'))).mode & 0o777, 0o640);
    await shim.rename(join(target, 'w'), join(target, 'v'));
    await shim.copyFile(join(target, 'v'), join(target, 'u'));
    await shim.unlink(join(target, 'v'));
    assert.deepEqual((await real.readdir(target)).sort(), ['a', 'u']);
    await shim.rm(target, { recursive: true });
    await assert.rejects(real.stat(target), { code: 'ENOENT' });
  });

  it("leaves to node:fs/promises what node:fs's callbacks cannot do: a FileHandle, open(), a stream as data", async () => {
    const handle = await shim.open(join(dir, 'file'), 'r');
    try {
      assert.ok(handle instanceof Object && typeof handle.close === 'function');
      assert.equal(await shim.readFile(handle, 'utf8'), 'content\n');
    } finally {
      await handle.close();
    }
    async function* parts() {
      yield 'a';
      yield 'b';
    }
    await shim.writeFile(join(dir, 'streamed'), parts());
    assert.equal(await real.readFile(join(dir, 'streamed'), 'utf8'), 'ab');
  });

  it('does not load node:fs/promises for the calls it answers, and loads it for the others', () => {
    const probe = (calls: string) =>
      execFileSync(
        process.execPath,
        [
          '-e',
          `const fs = require(${JSON.stringify(SHIM)});
           (async () => { ${calls} })().then(() =>
             console.log(process.moduleLoadList.includes('NativeModule fs/promises')));`,
        ],
        { encoding: 'utf8' },
      ).trim();
    const file = JSON.stringify(join(dir, 'file'));
    assert.equal(
      probe(`await fs.readFile(${file}, 'utf8'); await fs.stat(${file}); await fs.readdir(${JSON.stringify(dir)});`),
      'false',
    );
    assert.equal(probe(`await (await fs.open(${file}, 'r')).close();`), 'true');
  });
});

describe('writeNewFile: a new file through its descriptor', () => {
  let dir: string;
  before(async () => {
    dir = await real.mkdtemp(join(tmpdir(), 'moor-newfile-'));
  });
  after(() => real.rm(dir, { recursive: true, force: true }));

  it('creates the file with the data and the mode asked for, whatever the umask', async () => {
    const previous = process.umask(0o077);
    try {
      await writeNewFile(join(dir, 'a'), 'text', 0o644, { sync: true });
    } finally {
      process.umask(previous);
    }
    assert.equal(await real.readFile(join(dir, 'a'), 'utf8'), 'text');
    assert.equal((await real.stat(join(dir, 'a'))).mode & 0o777, 0o644);
    await writeNewFile(join(dir, 'b'), Buffer.from([1, 2, 3]), 0o600);
    assert.deepEqual([...(await real.readFile(join(dir, 'b')))], [1, 2, 3]);
  });

  it('refuses a file that exists (EEXIST), leaving it as it was', async () => {
    await real.writeFile(join(dir, 'c'), 'before');
    await assert.rejects(writeNewFile(join(dir, 'c'), 'after', 0o600), { code: 'EEXIST' });
    assert.equal(await real.readFile(join(dir, 'c'), 'utf8'), 'before');
  });

  it('a write that fails leaves no file behind', async () => {
    await assert.rejects(writeNewFile(join(dir, 'd'), 42 as unknown as string, 0o600), TypeError);
    await assert.rejects(real.stat(join(dir, 'd')), { code: 'ENOENT' });
  });
});
