/** start/stop/kill/restart on none machines (not supported) and rm (confirmation, -y, several names). */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertCleanError, assertExit, exists, TempStore } from './helpers.js';

describe('state changes and rm', () => {
  let store: TempStore;

  before(async () => {
    store = await TempStore.create();
    await store.createNone('web', 'tcp://127.0.0.1:1');
    await Promise.all([store.createNone('db', 'tcp://127.0.0.1:2'), store.createNone('cache', 'tcp://127.0.0.1:3')]);
  });
  after(() => store.cleanup());

  for (const operation of ['stop', 'kill', 'restart']) {
    it(`${operation} exits 6: "${operation}" is not supported by the none driver.`, async () => {
      const result = await store.moor([operation, 'web']);
      assertCleanError(result, 6, `"${operation}" is not supported by the none driver.`);
      assert.equal(result.stdout, '');
      assert.ok(await exists(store.path('machines/web/config.json')));
    });
  }

  it('start exits 6: "start" is not supported by the none driver.', async () => {
    const result = await store.moor(['start', 'web']);
    assertCleanError(result, 6, '"start" is not supported by the none driver.');
  });

  it('a state change leaves the record unchanged and no lock behind', async () => {
    const before = await store.moor(['inspect', 'web']);
    const result = await store.moor(['stop', 'web']);
    assertExit(result, 6);
    const afterwards = await store.moor(['inspect', 'web']);
    assert.equal(afterwards.stdout, before.stdout);
    assert.deepEqual(await readdir(store.path('locks')), []);
  });

  it('rm without -y on a non-TTY stdin refuses (exit 2) and keeps the machine', async () => {
    const [ignored, piped] = await Promise.all([
      store.moor(['rm', 'web']),
      store.moor(['rm', 'web'], { input: 'y\n' }),
    ]);
    for (const result of [ignored, piped]) {
      assertCleanError(result, 2, 'rm -y web');
      assert.equal(result.stdout, '');
    }
    assert.ok(await exists(store.path('machines/web/config.json')));
  });

  it('rm -y removes the machine folder', async () => {
    const result = await store.moor(['rm', '-y', 'web']);
    assertExit(result, 0);
    assert.equal(result.stdout, 'Successfully removed web\n');
    assert.equal(await exists(store.machineDir('web')), false);
    const ls = await store.moor(['ls', '-q']);
    assert.equal(ls.stdout, 'cache\ndb\n');
  });

  it('rm -y of an existing and a missing machine removes the existing one and exits 1', async () => {
    const result = await store.moor(['rm', '-y', 'db', 'nope']);
    assertExit(result, 1);
    assert.equal(result.stdout, 'Successfully removed db\n');
    assertCleanError(result, 1, 'Machine "nope" does not exist.');
    assert.equal(await exists(store.machineDir('db')), false);
    assert.ok(await exists(store.path('machines/cache/config.json')));
  });

  it('rm -y of a missing machine exits 1', async () => {
    const result = await store.moor(['rm', '-y', 'nope']);
    assertCleanError(result, 1, 'Machine "nope" does not exist. Run "moor ls" to list machines.');
  });

  it('leaves no temporary files or locks after removals', async () => {
    assert.deepEqual(await readdir(store.path('machines')), ['cache']);
    assert.deepEqual(await readdir(store.path('locks')), []);
  });
});
