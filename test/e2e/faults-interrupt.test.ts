/**
 * Ctrl-C (SIGINT) and SIGTERM during `moor create`, through the built CLI, sent at a step the test sees
 * from outside: a call reaching the EC2 emulator, a file appearing in the store. The first signal stops
 * create at its next safe point and undoes what a failed create undoes (amazonec2: the instance is
 * terminated and the record removed; generic: the record is kept with state Error, and the message says
 * so and what to run); exit 130. A second signal stops moor at once, and `moor rm -f -y` then removes what
 * the first create made, although it never learnt the instance's id (the RunInstances client token).
 * (An interrupted create -d generic on a real test host is in faults-host.test.ts, which shares its host.)
 * No assertion on durations: outcomes, exit codes, messages, records and the emulator's account.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { EMULATOR_AWS_ENV, startEc2Emulator, type Ec2Emulator } from '../helpers/ec2-emulator.js';
import { assertCleanError, assertExit, exists, parseJson, type RunningMoor, TempStore } from './helpers.js';

// The AWS SDK's warning about Node 20 would only add noise to the output the tests print on failure.
const ENV = { ...EMULATOR_AWS_ENV, NODE_NO_WARNINGS: '1' };
const FIRST_SIGNAL_SEEN =
  /Interrupted: stopping at the next safe point|Received SIGTERM: stopping at the next safe point/;

async function record(store: TempStore, name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(store.machineDir(name), 'config.json'), 'utf8')) as Record<string, unknown>;
}

describe('an interrupted create -d amazonec2 (EC2 emulator)', () => {
  let ec2: Ec2Emulator;
  let store: TempStore;

  beforeEach(async () => {
    // Instances get the loopback address: nothing of a test reaches further.
    ec2 = await startEc2Emulator({ ipFor: () => '127.0.0.1' });
    store = await TempStore.create();
  });
  afterEach(async () => {
    await ec2.close();
    await store.cleanup();
  });

  const startCreate = (): RunningMoor =>
    store.spawn(['create', '-d', 'amazonec2', '--amazonec2-endpoint', ec2.url, 'web'], {
      env: ENV,
      timeoutMs: 120_000,
    });

  async function assertNothingLeft(): Promise<void> {
    assert.deepEqual(ec2.leftovers(), { instances: [], keyPairs: [], groups: [] });
    assert.equal(await exists(store.machineDir('web')), false, 'no record');
    const ls = await store.moor(['ls', '--json'], { env: ENV });
    assertExit(ls, 0, 'ls');
    assert.deepEqual(parseJson(ls), []);
    assert.equal(await exists(join(store.root, 'locks', 'machine-web.lock')), false, 'no lock left');
  }

  it('SIGINT while RunInstances is on its way: the instance is terminated, nothing is left, exit 130', async () => {
    const running = startCreate(); // no call can arrive before the hook is set below
    ec2.onCall = async (action) => {
      if (action !== 'RunInstances') return;
      running.child.kill('SIGINT');
      await running.stderrMatches(FIRST_SIGNAL_SEEN); // the reply comes after moor took the signal
    };
    const result = await running.result;
    assertCleanError(result, 130, 'Creating machine "web" was interrupted (SIGINT)', 'nothing is left');
    assert.match(result.stderr, /Press Ctrl-C again to stop at once/);
    const actions = ec2.actions();
    assert.ok(actions.includes('TerminateInstances'), actions.join(' '));
    // It stopped at the safe point right after the launch: it did not wait for the instance to run.
    assert.equal(actions[actions.indexOf('RunInstances') + 1], 'TerminateInstances', actions.join(' '));
    await assertNothingLeft();
  });

  it('SIGTERM while it waits for the instance to run: the wait ends, the instance is terminated, exit 130', async () => {
    const running = startCreate();
    let launched = false;
    ec2.onCall = async (action) => {
      if (action === 'RunInstances') launched = true;
      if (action !== 'DescribeInstances' || !launched) return;
      ec2.onCall = undefined;
      running.child.kill('SIGTERM');
      await running.stderrMatches(FIRST_SIGNAL_SEEN);
    };
    const result = await running.result;
    assertCleanError(result, 130, 'Creating machine "web" was interrupted (SIGTERM)', 'nothing is left');
    assert.match(result.stderr, /Rolled back: removed instance/);
    await assertNothingLeft();
  });

  it('a second SIGINT stops moor at once; rm -f -y then removes the instance it never learnt the id of', async () => {
    const running = startCreate(); // no call can arrive before the hook is set below
    ec2.onCall = async (action) => {
      if (action !== 'RunInstances') return;
      running.child.kill('SIGINT');
      await running.stderrMatches(FIRST_SIGNAL_SEEN);
      running.child.kill('SIGINT');
      await running.result; // moor is gone before EC2 carries out its RunInstances
    };
    const result = await running.result;
    assertCleanError(result, 130, 'Stopped at once (SIGINT) while creating machine "web"', 'moor rm -f -y web');
    // EC2 carries out the RunInstances once the hook returns (moor is gone by then).
    for (let polls = 0; polls < 1_200 && ec2.instances.size === 0; polls += 1) await sleep(50);
    assert.equal(ec2.leftovers().instances.length, 1, 'the instance was launched after moor stopped');
    const kept = await record(store, 'web');
    assert.equal(kept['Phase'], 'creating');
    const driver = kept['Driver'] as Record<string, unknown>;
    assert.equal(driver['InstanceId'], undefined, 'moor never saw the instance id');
    assert.equal(typeof driver['ClientToken'], 'string', 'but recorded the client token before the call');

    const ls = await store.moor(['ls', '--json'], { env: ENV });
    assertExit(ls, 0, 'ls after the abort');
    assert.deepEqual(
      parseJson<{ Name: string }[]>(ls).map((item) => item.Name),
      ['web'],
    );
    const rm = await store.moor(['rm', '-f', '-y', 'web'], { env: ENV, timeoutMs: 60_000 });
    assertExit(rm, 0, 'rm -f -y');
    await assertNothingLeft();
  });
});
