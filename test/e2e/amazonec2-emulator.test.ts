/**
 * The amazonec2 driver through the built CLI, against the EC2 emulator (test/helpers/ec2-emulator.ts) on
 * loopback: bad input, failing pre-create checks and a failing create leave nothing behind in the
 * "account" nor half-written in the store, with documented exit codes; credential flags never reach disk.
 * (The full lifecycle with real provisioning is amazonec2-lifecycle.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { testKeyPair } from '../helpers/keys.js';
import { EMULATOR_AWS_ENV, startEc2Emulator, type Ec2Emulator } from '../helpers/ec2-emulator.js';
import { assertCleanError, assertExit, exists, parseJson, TempStore, walk } from './helpers.js';

/** A loopback port nobody listens on (taken from the OS, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('amazonec2 driver against the EC2 emulator (CLI)', () => {
  let ec2: Ec2Emulator;
  let store: TempStore;
  let closedPort: number;

  before(async () => {
    // Instances get the loopback address (tests reach only loopback); nothing answers SSH on CLOSED_PORT.
    ec2 = await startEc2Emulator({ ipFor: () => '127.0.0.1' });
    closedPort = await freePort();
  });
  after(async () => {
    await ec2?.close();
  });
  beforeEach(async () => {
    await store?.cleanup();
    store = await TempStore.create();
    for (const key of Object.keys(ec2.failures)) delete ec2.failures[key];
    ec2.calls.length = 0;
  });
  after(() => store?.cleanup());

  const create = (name: string, extra: string[] = [], env: Record<string, string | undefined> = {}) =>
    store.moor(['create', '-d', 'amazonec2', '--amazonec2-endpoint', ec2.url, ...extra, name], {
      env: { ...EMULATOR_AWS_ENV, ...env },
      timeoutMs: 60_000,
    });

  async function assertNoMachines() {
    const ls = await store.moor(['ls', '--json'], { env: EMULATOR_AWS_ENV });
    assertExit(ls, 0, 'ls');
    assert.deepEqual(parseJson(ls), []);
  }

  it('bad flag values: exit 2 before any EC2 call, nothing written', async () => {
    const cases: [string[], string][] = [
      [['--amazonec2-region', 'moon-1'], 'not an AWS region'],
      [['--amazonec2-tags', 'novalue'], 'must be KEY=VALUE'],
      [['--amazonec2-open-port', '70000'], 'PORT or PORT/udp'],
      [['--amazonec2-keypair-name', 'mine'], 'needs --amazonec2-ssh-keypath'],
      [['--amazonec2-metadata-http-tokens', 'maybe'], 'to be one of: required, optional'],
    ];
    for (const [flags, message] of cases) {
      const result = await create('bad', flags);
      assertCleanError(result, 2, message);
    }
    assert.deepEqual(ec2.actions(), []);
    assert.equal(await exists(store.machineDir('bad')), false);
  });

  it('an AMI that does not exist: pre-create check fails with exit 3, nothing created or written', async () => {
    const result = await create('web', ['--amazonec2-ami', 'ami-0doesnotexist']);
    assertCleanError(result, 3, 'AMI ami-0doesnotexist was not found in region us-east-1');
    assert.deepEqual(ec2.actions(), ['DescribeVpcs', 'DescribeSubnets', 'DescribeImages']);
    assert.deepEqual(ec2.leftovers(), { instances: [], keyPairs: [], groups: [] });
    await assertNoMachines();
  });

  it('an unusable --amazonec2-ssh-keypath (a public key): exit 3 naming it, before any EC2 call (no RunInstances)', async () => {
    const keyDir = store.path('user-keys');
    await mkdir(keyDir, { recursive: true });
    const key = join(keyDir, 'id_ed25519.pub');
    await writeFile(key, (await testKeyPair()).public, { mode: 0o600 });
    const result = await create('web', ['--amazonec2-ssh-keypath', key]);
    assertCleanError(result, 3, 'Pre-create check failed', `SSH private key ${key} is a public key`);
    assert.deepEqual(ec2.actions(), []);
    assert.deepEqual(ec2.leftovers(), { instances: [], keyPairs: [], groups: [] });
    await assertNoMachines();
  });

  it('no credentials anywhere: exit 3 and what to set', async () => {
    const result = await create('web', [], { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    assertCleanError(result, 3, 'Pre-create check failed');
    assert.match(result.stderr, /AWS_ACCESS_KEY_ID/);
    await assertNoMachines();
  });

  it('RunInstances fails: the key pair and the security group are rolled back, the secret flags are nowhere on disk', async () => {
    ec2.failures['RunInstances'] = 'InsufficientInstanceCapacity';
    const result = await create('web', [
      '--amazonec2-access-key',
      'AKIAFLAGSECRETNEVER1',
      '--amazonec2-secret-key',
      'flag-secret-never-stored',
      '--amazonec2-session-token',
      'flag-token-never-stored',
      '--amazonec2-tags',
      'team=e2e',
    ]);
    assertCleanError(
      result,
      1,
      'InsufficientInstanceCapacity',
      'Rolled back: removed security group sg-',
      'key pair moor-web-',
    );
    assert.deepEqual(ec2.leftovers(), { instances: [], keyPairs: [], groups: [] });
    assert.deepEqual(ec2.actions(), [
      'DescribeVpcs',
      'DescribeSubnets',
      'DescribeImages',
      'ImportKeyPair',
      'DescribeSecurityGroups',
      'CreateSecurityGroup',
      'AuthorizeSecurityGroupIngress',
      'RunInstances',
      'DeleteSecurityGroup',
      'DeleteKeyPair',
    ]);
    for (const file of await walk(store.root)) {
      const text = await readFile(join(store.root, file), 'utf8').catch(() => '');
      assert.doesNotMatch(text, /AKIAFLAGSECRETNEVER1|flag-secret-never-stored|flag-token-never-stored/, file);
    }
    // The failed record stays with its error; rm removes it without touching the (already clean) account.
    const ls = await store.moor(['ls', '--json'], { env: EMULATOR_AWS_ENV });
    const items = parseJson<{ Name: string; State: string; Error: string }[]>(ls);
    assert.equal(items[0]?.State, 'Error');
    assert.match(items[0]!.Error, /InsufficientInstanceCapacity/);
    ec2.calls.length = 0;
    assertExit(await store.moor(['rm', '-y', 'web'], { env: EMULATOR_AWS_ENV }), 0, 'rm');
    assert.deepEqual(ec2.actions(), []);
    await assertNoMachines();
  });

  it('provisioning fails after the instance ran: instance, group and key pair are removed, and the record too', async () => {
    const result = await create('web', ['--amazonec2-ssh-port', String(closedPort), '--ssh-timeout', '2']);
    assertCleanError(result, 7, 'Creating machine "web" failed', 'The machine was removed again.');
    assert.match(result.stderr, /removing what was created/);
    assert.deepEqual(ec2.leftovers(), { instances: [], keyPairs: [], groups: [] });
    const actions = ec2.actions();
    assert.ok(actions.includes('RunInstances') && actions.includes('TerminateInstances'), actions.join(' '));
    assert.deepEqual(actions.slice(-2), ['DeleteKeyPair', 'DeleteSecurityGroup']);
    await assertNoMachines();
    assert.equal(await exists(store.machineDir('web')), false);
  });
});
