/**
 * Moor.list against the fake driver (test/helpers/fake-driver.ts): parallel state queries bounded by the
 * timeout, filters, the active machine and the DOCKER column. Whether the queries run in parallel is shown
 * by a barrier, not by timing: no machine answers until every machine is being asked.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MoorError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { MachineState, type MachineStateValue } from '../../src/core/machine.js';
import { Moor } from '../../src/core/moor.js';
import { type FakeDriver, fakeDriver, fakeRecord } from '../helpers/fake-driver.js';

/**
 * Budget of a list whose machines answer. Only the machines that never answer wait it out, so it is far
 * above what answering takes even on a loaded machine; nothing here depends on it being short.
 */
const TIMEOUT_MS = 5_000;
/** Budget of a list where every machine answers: it returns as soon as they did. */
const NO_TIMEOUT_MS = 120_000;
const URL = 'tcp://127.0.0.1:1';

/** A store with records of the fake driver `driver`, whose hosts are in the given states. */
async function storeWith(
  driver: FakeDriver,
  machines: { name: string; state: MachineStateValue; labels?: string[] }[],
): Promise<{ root: string; moor: Moor }> {
  const root = await mkdtemp(join(tmpdir(), 'moor-ls-'));
  const moor = new Moor({ storagePath: root, log: silentLogger, env: {} });
  for (const { name, state, labels = [] } of machines) {
    driver.hosts.set(name, { state, ip: '127.0.0.1', url: URL });
    await moor.store.add(fakeRecord(driver, name, { engine: { Labels: labels } }));
  }
  return { root, moor };
}

describe('ls: machines that do not answer', () => {
  const driver = fakeDriver({ label: 'slow' });
  let root: string;
  let moor: Moor;
  /** State queries under way, and the most at once. */
  const queries = { running: 0, most: 0 };
  let everyMachineAsked!: () => void;
  const allAsked = new Promise<void>((resolve) => (everyMachineAsked = resolve));
  let answerLate!: () => void;
  const late = new Promise<void>((resolve) => (answerLate = resolve));

  before(async () => {
    ({ root, moor } = await storeWith(driver, [
      { name: 'fast10', state: MachineState.Running, labels: ['env=prod'] },
      { name: 'fast2', state: MachineState.Stopped },
      { name: 'hang', state: MachineState.Running },
      { name: 'slow', state: MachineState.Running },
    ]));
    driver.before('getState', async (machine) => {
      queries.running += 1;
      queries.most = Math.max(queries.most, queries.running);
      if (queries.running === 4) everyMachineAsked();
      await allAsked;
      if (machine === 'hang') await new Promise(() => undefined);
      if (machine === 'slow') await late; // answers, but only after the list gave up on it
      queries.running -= 1;
    });
  });
  after(async () => {
    answerLate();
    await rm(root, { recursive: true, force: true });
  });

  it('queries every machine at once and shows Timeout for those that do not answer in time', async () => {
    const items = await moor.list({ timeoutMs: TIMEOUT_MS, queryDockerVersion: false, dockerHost: URL });
    assert.deepEqual(
      items.map((item) => [item.Name, item.State, item.Active]),
      [
        ['fast2', 'Stopped', '-'],
        ['fast10', 'Running', '*'],
        // Same URL as fast10, but a machine that did not answer is not the active one.
        ['hang', 'Timeout', '-'],
        ['slow', 'Timeout', '-'],
      ],
    );
    // All four machines were being queried at the same moment: one timeout, not one per slow machine
    // (queried one after the other, the first would wait for the others forever and all would time out).
    assert.equal(queries.most, 4);
  });
});

describe('ls: filters, the active machine and the DOCKER column', () => {
  const driver = fakeDriver({ label: 'ls' });
  let root: string;
  let moor: Moor;
  before(async () => {
    ({ root, moor } = await storeWith(driver, [
      { name: 'fast10', state: MachineState.Running, labels: ['env=prod'] },
      { name: 'fast2', state: MachineState.Stopped },
      { name: 'web', state: MachineState.Running, labels: ['env=dev'] },
    ]));
    driver.hosts.get('web')!.url = 'tcp://127.0.0.1:2';
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('filters on state and label after querying', async () => {
    const running = await moor.list({
      timeoutMs: NO_TIMEOUT_MS,
      queryDockerVersion: false,
      filters: ['state=running'],
    });
    assert.deepEqual(
      running.map((item) => item.Name),
      ['fast10', 'web'],
    );
    const labelled = await moor.list({
      timeoutMs: NO_TIMEOUT_MS,
      queryDockerVersion: false,
      filters: ['label=env=prod', `driver=${driver.name.toUpperCase()}`],
    });
    assert.deepEqual(
      labelled.map((item) => item.Name),
      ['fast10'],
    );
  });

  it('marks the machine whose URL is DOCKER_HOST as active', async () => {
    const items = await moor.list({ timeoutMs: NO_TIMEOUT_MS, queryDockerVersion: false, dockerHost: URL });
    // fast2 has the same URL, but is stopped.
    assert.deepEqual(
      items.filter((item) => item.Active === '*').map((item) => item.Name),
      ['fast10'],
    );
  });

  it('reports the DOCKER column error for an engine that refuses connections', async () => {
    const items = await moor.list({ timeoutMs: NO_TIMEOUT_MS, queryDockerVersion: true, filters: ['name=^fast10$'] });
    assert.equal(items.length, 1);
    assert.equal(items[0]!.DockerVersion, 'Unknown');
    assert.match(items[0]!.Error, /^Unable to query docker version: /);
  });

  it('rejects a bad filter before querying anything', async () => {
    const before = driver.calls.length;
    await assert.rejects(
      moor.list({ timeoutMs: NO_TIMEOUT_MS, queryDockerVersion: false, filters: ['colour=red'] }),
      (error: Error) => {
        assert.ok(error instanceof MoorError);
        assert.equal(error.exitCode, 2);
        return true;
      },
    );
    assert.equal(driver.calls.length, before, 'no machine was queried');
  });
});
