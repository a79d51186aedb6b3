/**
 * Everything after create, for amazonec2 machines, through the built CLI against the EC2 emulator (no
 * test host needed): machines whose instances, key pairs and security groups the emulator holds (as a
 * finished create leaves them), and their records in the store. ls asks EC2 once for all of them; stop,
 * start (a new IP is picked up), kill, restart and rm make the right calls; an instance terminated
 * outside moor shows as Error; rm leaves nothing in the account.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  EMULATOR_AWS_ENV,
  EMULATOR_VPC,
  startEc2Emulator,
  writeAmazonec2Record,
  type Ec2Emulator,
} from '../helpers/ec2-emulator.js';
import { filtersOf } from '../helpers/ec2-query.js';
import { assertCleanError, assertExit, exists, TempStore } from './helpers.js';

const NAMES = ['web1', 'web2', 'web3'];
const LS_FORMAT = '{{.Name}} {{.State}} {{.URL}}';

describe('amazonec2 machines after create (CLI against the EC2 emulator)', () => {
  let ec2: Ec2Emulator;
  let store: TempStore;
  const seeded = new Map<string, ReturnType<Ec2Emulator['seedMachine']>>();

  const moor = (args: string[]) => store.moor(args, { env: EMULATOR_AWS_ENV, timeoutMs: 60_000 });

  /** ls lines "NAME STATE URL", and the EC2 calls ls made. */
  async function ls(): Promise<{ lines: string[]; actions: string[] }> {
    const before = ec2.calls.length;
    const result = await moor(['ls', '--format', LS_FORMAT]);
    assertExit(result, 0, 'ls');
    return {
      lines: result.stdout.trim().split('\n'),
      actions: ec2.calls.slice(before).map((call) => String(call.Action)),
    };
  }

  async function driverState(name: string): Promise<Record<string, unknown>> {
    return JSON.parse(await readFile(join(store.machineDir(name), 'config.json'), 'utf8')).Driver;
  }

  before(async () => {
    // Instances get loopback addresses (tests reach only loopback): 127.0.0.<start count + 1>.
    ec2 = await startEc2Emulator({ transitionMs: 200, ipFor: (_id, count) => `127.0.0.${count + 1}` });
    store = await TempStore.create();
    for (const name of NAMES) {
      const machine = ec2.seedMachine(name);
      seeded.set(name, machine);
      await writeAmazonec2Record(store.machineDir(name), name, {
        endpoint: ec2.url,
        retries: 5,
        instanceId: machine.instanceId,
        ip: machine.ip,
        keyPairName: machine.keyPairName,
        vpcId: EMULATOR_VPC,
        groupId: machine.groupId,
      });
    }
  });
  after(async () => {
    await ec2?.close();
    await store?.cleanup();
  });

  it('no AWS SDK warning on stderr, on any Node (its NodeVersionSupportWarning is eight lines on Node 20)', async () => {
    const result = await moor(['status', 'web1']);
    assertExit(result, 0, 'status');
    assert.equal(result.stdout, 'Running\n');
    assert.doesNotMatch(result.stderr, /NodeVersionSupportWarning|AWS SDK/);
  });

  it('ls: every machine Running with its URL, from one DescribeInstances for all of them', async () => {
    const { lines, actions } = await ls();
    assert.deepEqual(lines, [
      'web1 Running tcp://127.0.0.2:2376',
      'web2 Running tcp://127.0.0.2:2376',
      'web3 Running tcp://127.0.0.2:2376',
    ]);
    assert.deepEqual(actions, ['DescribeInstances']);
    const ids = filtersOf(ec2.calls.at(-1)!).get('instance-id') ?? [];
    assert.deepEqual([...ids].sort(), NAMES.map((name) => seeded.get(name)!.instanceId).sort());
  });

  it('stop two machines: StopInstances each, and ls shows them Stopped', async () => {
    assertExit(await moor(['stop', 'web1', 'web2']), 0, 'stop');
    const stops = ec2.calls.filter((call) => call.Action === 'StopInstances');
    assert.equal(stops.length, 2);
    assert.ok(stops.every((call) => call['Force'] === undefined));
    const { lines } = await ls();
    assert.deepEqual(lines, ['web1 Stopped ', 'web2 Stopped ', 'web3 Running tcp://127.0.0.2:2376']);
  });

  it('stop an already stopped machine: a clear error', async () => {
    assertCleanError(await moor(['stop', 'web1']), 1, 'Machine "web1" is already stopped.');
  });

  it('start: the instance runs again and its new public IP is recorded and shown', async () => {
    assertExit(await moor(['start', 'web1']), 0, 'start');
    assert.equal((await driverState('web1'))['IPAddress'], '127.0.0.3');
    const { lines } = await ls();
    assert.equal(lines[0], 'web1 Running tcp://127.0.0.3:2376');
  });

  it('kill is a forced stop; restart is a reboot', async () => {
    assertExit(await moor(['kill', 'web3']), 0, 'kill');
    const kill = ec2.calls.filter((call) => call.Action === 'StopInstances').at(-1)!;
    assert.equal(kill['Force'], 'true');
    assert.deepEqual(kill['InstanceId'], [seeded.get('web3')!.instanceId]);
    assertExit(await moor(['restart', 'web1']), 0, 'restart');
    const reboot = ec2.calls.filter((call) => call.Action === 'RebootInstances');
    assert.deepEqual(
      reboot.map((call) => call['InstanceId']),
      [[seeded.get('web1')!.instanceId]],
    );
  });

  it('an instance terminated outside moor shows as Error, with why', async () => {
    ec2.instances.get(seeded.get('web2')!.instanceId)!.state = 'terminated';
    const result = await moor(['ls', '--format', '{{.Name}} {{.State}} {{.Error}}']);
    assertExit(result, 0, 'ls');
    assert.match(
      result.stdout,
      new RegExp(`^web2 Error Instance ${seeded.get('web2')!.instanceId} was terminated outside moor\\.$`, 'm'),
    );
  });

  it('rm of every machine: instances terminated, key pairs and security groups deleted, records gone', async () => {
    assertExit(await moor(['rm', '-y', ...NAMES]), 0, 'rm');
    assert.deepEqual(ec2.leftovers(), { instances: [], keyPairs: [], groups: [] });
    for (const name of NAMES) assert.equal(await exists(store.machineDir(name)), false);
  });
});
