/**
 * A machine name never comes from standard input: oclif reads a missing argument from a piped stdin, so
 * `echo lab | moor rm -y` used to remove "lab". With NAME left out, commands mean "default" (and fail with
 * the documented error when it does not exist), whatever is piped in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertCleanError, assertExit, exists, parseJson, TempStore } from './helpers.js';

const NO_DEFAULT = 'No machine name(s) specified and no "default" machine exists.';

describe('a piped stdin is never a machine name', () => {
  let store: TempStore;
  const piped = { input: 'lab\n' };

  before(async () => {
    store = await TempStore.create();
    await store.createNone('lab', 'tcp://127.0.0.1:1');
  });
  after(() => store.cleanup());

  for (const args of [['rm', '-y'], ['rm', '-y', '-f'], ['env'], ['inspect'], ['use'], ['status'], ['ip']]) {
    it(`echo lab | moor ${args.join(' ')}: no "default", exit 2, lab untouched`, async () => {
      const result = await store.moor(args, { ...piped, env: { DOCKER_CONFIG: store.path('docker-config') } });
      assertCleanError(result, 2, NO_DEFAULT);
      assert.equal(result.stdout, '');
      assert.equal(await exists(store.path('machines/lab/config.json')), true, 'lab must still exist');
      assert.equal(await exists(store.path('docker-config')), false, 'no docker context was written');
    });
  }

  it('echo lab | moor rm -y --json: the NO_DEFAULT_MACHINE error document', async () => {
    const result = await store.moor(['rm', '-y', '--json'], piped);
    assertExit(result, 2);
    assert.deepEqual(parseJson(result), {
      error: {
        code: 'NO_DEFAULT_MACHINE',
        message: NO_DEFAULT,
        exitCode: 2,
        suggestions: ['Name a machine, e.g. "moor rm NAME"; "moor ls" lists them.'],
      },
    });
    assert.equal(await exists(store.path('machines/lab/config.json')), true);
  });

  for (const command of ['ssh', 'tunnel', 'docker']) {
    it(`echo lab | moor ${command}: the machine name is missing (exit 2), nothing reaches lab`, async () => {
      const result = await store.moor([command], piped);
      assertCleanError(result, 2, `Missing the machine name: "moor ${command} NAME`);
      assert.equal(await exists(store.path('machines/lab/tunnel.json')), false);
    });
  }

  it("echo lab | moor version prints moor's own version, not lab's engine", async () => {
    const result = await store.moor(['version'], piped);
    assertExit(result, 0);
    assert.match(result.stdout, /^moor version \d+\.\d+\.\d+ \(node /);
  });

  it('echo lab | moor rm -y default-less, then the same with a "default": only default goes', async () => {
    await store.createNone('default', 'tcp://127.0.0.1:2');
    const result = await store.moor(['rm', '-y'], piped);
    assertExit(result, 0);
    assert.equal(result.stdout, 'Successfully removed default\n');
    assert.equal(await exists(store.path('machines/default')), false);
    assert.equal(await exists(store.path('machines/lab/config.json')), true);
  });
});
