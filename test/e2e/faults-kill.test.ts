/**
 * Fault injection: `moor` killed with SIGKILL at each step of create, start, stop and rm, through the built
 * CLI. The kill is triggered from outside, where the step can be seen: the EC2 emulator receiving a given
 * call (which it then carries out, as EC2 would), the fake VBoxManage receiving a given subcommand (held
 * until moor is dead, then carried out). After each kill: `moor ls` works and lists the machine (the store
 * is readable), another machine of the store is untouched (nothing lost), and `moor rm -f -y` removes the
 * machine and everything its driver made (no instance, key pair, security group or VM outlives it).
 *
 * The cases are data (KILLS below); README "Reliability" reports their count.
 * run-tests: default Node only (a few minutes of processes killed one by one; the other Nodes run the same code)
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import {
  EMULATOR_AWS_ENV,
  EMULATOR_VPC,
  startEc2Emulator,
  writeAmazonec2Record,
  type Ec2Emulator,
} from '../helpers/ec2-emulator.js';
import { FAKE_VBOXMANAGE, FakeVBox } from '../helpers/fake-vbox.js';
import { assertExit, exists, parseJson, type RunResult, TempStore } from './helpers.js';

const ENV = { ...EMULATOR_AWS_ENV, NODE_NO_WARNINGS: '1' };

/** The bystander machine: a none-driver record that no kill may touch. */
const OTHER = 'other';

async function addBystander(store: TempStore): Promise<string> {
  await store.createNone(OTHER, 'tcp://127.0.0.1:9');
  return readFile(join(store.machineDir(OTHER), 'config.json'), 'utf8');
}

/** ls works and lists `expected` (and the bystander), every record left parses, the bystander is unchanged. */
async function assertStoreIntact(
  store: TempStore,
  expected: string[],
  bystander: string,
  env: Record<string, string | undefined>,
): Promise<void> {
  const ls = await store.moor(['ls', '--json'], { env, timeoutMs: 120_000 });
  assertExit(ls, 0, 'ls after the kill');
  const names = parseJson<{ Name: string }[]>(ls).map((item) => item.Name);
  assert.deepEqual(names.sort(), [...expected, OTHER].sort());
  for (const name of expected) JSON.parse(await readFile(join(store.machineDir(name), 'config.json'), 'utf8'));
  assert.equal(await readFile(join(store.machineDir(OTHER), 'config.json'), 'utf8'), bystander, 'bystander intact');
}

interface Ec2Kill {
  operation: 'create' | 'start' | 'stop' | 'rm';
  /** The call whose arrival kills moor (the first one after `after`, when given). */
  action: string;
  after?: string;
  /** Whether the record exists once moor is dead (a kill before create's record: none). */
  recorded: boolean;
}

const EC2_KILLS: Ec2Kill[] = [
  { operation: 'create', action: 'DescribeImages', recorded: false },
  { operation: 'create', action: 'ImportKeyPair', recorded: true },
  { operation: 'create', action: 'CreateSecurityGroup', recorded: true },
  { operation: 'create', action: 'AuthorizeSecurityGroupIngress', recorded: true },
  { operation: 'create', action: 'RunInstances', recorded: true },
  { operation: 'create', action: 'DescribeInstances', after: 'RunInstances', recorded: true },
  { operation: 'start', action: 'StartInstances', recorded: true },
  { operation: 'start', action: 'DescribeInstances', after: 'StartInstances', recorded: true },
  { operation: 'stop', action: 'StopInstances', recorded: true },
  { operation: 'stop', action: 'DescribeInstances', after: 'StopInstances', recorded: true },
  { operation: 'rm', action: 'TerminateInstances', recorded: true },
  { operation: 'rm', action: 'DescribeInstances', after: 'TerminateInstances', recorded: true },
  { operation: 'rm', action: 'DeleteKeyPair', recorded: true },
  { operation: 'rm', action: 'DeleteSecurityGroup', recorded: true },
];

describe('moor killed (SIGKILL) at each EC2 call of create, start, stop and rm (EC2 emulator)', () => {
  let ec2: Ec2Emulator;
  let store: TempStore;
  let bystander: string;

  // One emulator and one store for all cases (each case leaves nothing behind, which it asserts).
  before(async () => {
    ec2 = await startEc2Emulator({ ipFor: () => '127.0.0.1' });
    store = await TempStore.create();
    bystander = await addBystander(store);
  });
  after(async () => {
    await ec2.close();
    await store.cleanup();
  });

  /** A machine as a finished create leaves it, in the emulator and the store; `stopped` for a start. */
  async function seed(name: string, stopped: boolean): Promise<void> {
    const seeded = ec2.seedMachine(name);
    if (stopped) ec2.instances.get(seeded.instanceId)!.state = 'stopped';
    await writeAmazonec2Record(store.machineDir(name), name, {
      endpoint: ec2.url,
      retries: 2,
      instanceId: seeded.instanceId,
      ip: seeded.ip,
      keyPairName: seeded.keyPairName,
      vpcId: EMULATOR_VPC,
      groupId: seeded.groupId,
    });
  }

  /** Runs `moor args` and kills it with SIGKILL when the emulator receives `action` (after `after`). */
  async function killAt(args: string[], action: string, after: string | undefined): Promise<RunResult> {
    const running = store.spawn(args, { env: ENV, timeoutMs: 120_000 });
    let armed = after === undefined;
    let hit = false;
    ec2.onCall = async (name) => {
      if (name === after) armed = true;
      if (!armed || hit || name !== action) return;
      hit = true;
      running.child.kill('SIGKILL');
      await running.result; // the call is carried out once moor is dead
    };
    const result = await running.result;
    ec2.onCall = undefined;
    assert.ok(hit, `moor ${args[0]} reached ${action}:\n${result.stderr}`);
    assert.equal(result.signal, 'SIGKILL');
    // The call of the kill is carried out after the hook returns: the barrier is its answer.
    await sleepUntil(() => ec2.answered() >= ec2.calls.length);
    return result;
  }

  // Each kill on a machine of its own (its own security group: a shared one stays while another instance
  // uses it); then one ls and one rm -f -y of them all, as a user would clean up.
  const recorded: string[] = [];
  EC2_KILLS.forEach((kill, index) => {
    const at = kill.after ? `${kill.action} after ${kill.after}` : kill.action;
    it(`${kill.operation} killed at ${at}`, async () => {
      const name = `web${index + 1}`;
      const args =
        kill.operation === 'create'
          ? ['create', '-d', 'amazonec2', '--amazonec2-endpoint', ec2.url, '--amazonec2-security-group', `moor-${name}`]
          : [kill.operation, ...(kill.operation === 'rm' ? ['-y'] : [])];
      if (kill.operation !== 'create') await seed(name, kill.operation === 'start');
      await killAt([...args, name], kill.action, kill.after);
      if (kill.recorded) recorded.push(name);
      assert.equal(await exists(join(store.machineDir(name), 'config.json')), kill.recorded);
    });
  });

  it('after the kills: ls works, nothing lost, rm -f -y leaves nothing in EC2', async () => {
    await assertStoreIntact(store, recorded, bystander, ENV);
    const removed = await store.moor(['rm', '-f', '-y', ...recorded], { env: ENV, timeoutMs: 180_000 });
    assertExit(removed, 0, 'rm -f -y after the kills');
    assert.deepEqual(ec2.leftovers(), { instances: [], keyPairs: [], groups: [] }, 'nothing left in EC2');
    await assertStoreIntact(store, [], bystander, ENV);
  });
});

/** Waits (bounded, generous) until `done`; the barrier is the emulator's own state, not a duration. */
async function sleepUntil(done: () => boolean): Promise<void> {
  for (let polls = 0; polls < 2_400 && !done(); polls += 1) await sleep(25);
}

/** The create kills, each on a machine of its own; then stop, start and rm of one machine, each killed. */
const VBOX_CREATE_KILLS = ['createvm', 'clonemedium', 'startvm'];
const VBOX_LIFECYCLE_KILLS: { operation: 'stop' | 'start' | 'rm'; subcommand: string }[] = [
  { operation: 'stop', subcommand: 'controlvm' },
  { operation: 'start', subcommand: 'startvm' },
  { operation: 'rm', subcommand: 'unregistervm' },
];

describe('moor killed (SIGKILL) at VBoxManage subcommands of create, stop, start and rm (fake VBoxManage)', () => {
  let store: TempStore;
  let fake: FakeVBox;
  let image: string;
  let bystander: string;

  beforeEach(async () => {
    store = await TempStore.create();
    fake = await FakeVBox.create();
    image = store.path('image.vmdk');
    await writeFile(image, 'fake image\n');
    bystander = await addBystander(store);
  });
  afterEach(async () => {
    fake.stopRelays();
    await store.cleanup();
  });

  const env = () => ({ FAKE_VBOX_DIR: fake.dir });
  const createArgs = (name: string) => [
    'create',
    '-d',
    'virtualbox',
    '--virtualbox-vboxmanage',
    FAKE_VBOXMANAGE,
    '--virtualbox-image-url',
    image,
    name,
  ];

  /** Runs `moor args`, kills it while VBoxManage holds `subcommand`, then lets the held call be carried out. */
  async function killAtSubcommand(args: string[], subcommand: string): Promise<void> {
    const running = store.spawn(args, { env: { ...env(), FAKE_VBOX_HOLD: subcommand }, timeoutMs: 120_000 });
    const held = join(fake.dir, 'held');
    const release = join(fake.dir, 'release');
    await sleepUntilAsync(async () => (await exists(held)) || running.child.exitCode !== null);
    assert.ok(await exists(held), `moor ${args[0]} reached VBoxManage ${subcommand}:\n${running.stderr()}`);
    running.child.kill('SIGKILL');
    assert.equal((await running.result).signal, 'SIGKILL');
    await writeFile(release, '');
    await sleepUntilAsync(async () => !(await exists(held))); // the held call was carried out
    await rm(release);
  }

  it(`create killed at ${VBOX_CREATE_KILLS.map((sub) => `"VBoxManage ${sub}"`).join(', ')}; then ${VBOX_LIFECYCLE_KILLS.map((kill) => `${kill.operation} killed at "VBoxManage ${kill.subcommand}"`).join(', ')}: after each ls works; rm -f -y leaves no VM`, async () => {
    const names = VBOX_CREATE_KILLS.map((_, index) => `vm${index + 1}`);
    for (const [index, subcommand] of VBOX_CREATE_KILLS.entries()) {
      await killAtSubcommand(createArgs(names[index]!), subcommand);
    }
    await assertStoreIntact(store, names, bystander, env());
    // The last one's VM runs (its startvm was carried out): stop, start and rm it, each killed.
    const last = names.at(-1)!;
    for (const kill of VBOX_LIFECYCLE_KILLS) {
      await killAtSubcommand([kill.operation, ...(kill.operation === 'rm' ? ['-y'] : []), last], kill.subcommand);
      await assertStoreIntact(store, names, bystander, env());
    }
    const removed = await store.moor(['rm', '-f', '-y', ...names], { env: env(), timeoutMs: 180_000 });
    assertExit(removed, 0, 'rm -f -y after the kills');
    assert.deepEqual(Object.keys(fake.state().vms), [], 'no VM outlives its machine');
    await assertStoreIntact(store, [], bystander, env());
  });
});

async function sleepUntilAsync(done: () => Promise<boolean>): Promise<void> {
  for (let polls = 0; polls < 2_400 && !(await done()); polls += 1) await sleep(25);
}
