/**
 * amazonec2 against broken EC2 endpoints on loopback, through the built CLI: an endpoint that accepts
 * connections and never answers, one that answers 500, one that throttles, one that answers malformed XML.
 * create, status, url, rm -y and rm -f -y each end (bounded by MOOR_AMAZONEC2_HTTP_TIMEOUT_MS, small here)
 * with the documented exit code and a message that names the endpoint, no stack trace, and no moor process
 * left behind; rm -y keeps the record, rm -f -y removes it and lists what it left in EC2. A `moor rm`
 * killed (-9) while it holds the machine's lock does not block the next command.
 * No assertion on durations: outcomes, exit codes, messages and files only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { EMULATOR_AWS_ENV, writeAmazonec2Record } from '../helpers/ec2-emulator.js';
import { type BrokenEc2, type BrokenKind, startBrokenEc2 } from '../helpers/broken-ec2.js';
import { assertCleanError, assertExit, assertNoStackTrace, BIN, cleanEnv, exists, TempStore } from './helpers.js';

// Small, but far above what a loaded machine needs for an endpoint that answers at once.
const HTTP_TIMEOUT_MS = '1500';
const ENV = { ...EMULATOR_AWS_ENV, MOOR_AMAZONEC2_HTTP_TIMEOUT_MS: HTTP_TIMEOUT_MS, NODE_NO_WARNINGS: '1' };
const INSTANCE = 'i-0fault0fault0fault';
const KEY_PAIR = 'moor-web-fault';
const GROUP = 'sg-0fault0fault0fault';

/** The record a finished create leaves, pointing at `endpoint`. */
async function seedRecord(store: TempStore, name: string, endpoint: string): Promise<void> {
  await writeAmazonec2Record(store.machineDir(name), name, {
    endpoint,
    retries: 2,
    instanceId: INSTANCE,
    ip: '127.0.0.9',
    keyPairName: KEY_PAIR,
    vpcId: 'vpc-0fault',
    groupId: GROUP,
  });
}

/** Pids of the processes (of this user) running with this store: moor processes of the test left running. */
async function processesOf(store: TempStore): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, 'utf8');
      if (!environ.split('\0').includes(`MOOR_STORAGE_PATH=${store.root}`)) continue;
      // A zombie is not running.
      const status = await readFile(`/proc/${entry}/status`, 'utf8');
      if (/^State:\s+Z/m.test(status)) continue;
      await readlink(`/proc/${entry}/exe`);
      found.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

/** What each broken endpoint makes of a call: exit codes of create and of the later commands, message parts. */
const CASES: { kind: BrokenKind; createExit: number; exit: number; says: (url: string) => string[] }[] = [
  {
    kind: 'stall',
    createExit: 7,
    exit: 7,
    says: (url) => [`got no answer from ${url} (region us-east-1)`, 'MOOR_AMAZONEC2_HTTP_TIMEOUT_MS'],
  },
  { kind: 'server-error', createExit: 3, exit: 1, says: () => ['InternalError: An internal error has occurred.'] },
  {
    kind: 'throttle',
    createExit: 3,
    exit: 1,
    says: () => ['RequestLimitExceeded', 'The EC2 API is throttling requests', '--amazonec2-retries'],
  },
  {
    kind: 'malformed',
    createExit: 3,
    exit: 1,
    says: (url) => [`the answer of ${url} (region us-east-1)`, "is not the EC2 API's"],
  },
];

for (const { kind, createExit, exit, says } of CASES) {
  describe(`amazonec2 against an endpoint that ${kind === 'stall' ? 'never answers' : `answers ${kind}`}`, () => {
    let endpoint: BrokenEc2;
    let store: TempStore;
    const moor = (args: string[]) => store.moor(args, { env: ENV, timeoutMs: 60_000 });

    before(async () => {
      endpoint = await startBrokenEc2(kind);
      store = await TempStore.create();
    });

    after(async () => {
      await endpoint.close();
      await store.cleanup();
    });

    it(`create fails with exit ${createExit}, nothing created`, async () => {
      const result = await moor([
        'create',
        '-d',
        'amazonec2',
        '--amazonec2-endpoint',
        endpoint.url,
        '--amazonec2-retries',
        '2',
        'fresh',
      ]);
      assertCleanError(result, createExit, 'DescribeVpcs', ...says(endpoint.url));
      assert.ok(endpoint.hits() > 0, 'the endpoint was called');
      assert.equal(await exists(store.machineDir('fresh')), false);
    });

    it(`status and url fail with exit ${exit}`, async () => {
      await seedRecord(store, 'web', endpoint.url);
      const status = await moor(['status', 'web']);
      assertCleanError(status, exit, 'DescribeInstances', ...says(endpoint.url));
      const url = await moor(['url', 'web']);
      assertCleanError(url, exit, 'DescribeInstances', ...says(endpoint.url));
    });

    it(`rm -y fails with exit ${exit}, keeps the record and suggests rm -f`, async () => {
      const result = await moor(['rm', '-y', 'web']);
      assertCleanError(
        result,
        exit,
        'Could not remove machine "web"',
        'TerminateInstances',
        ...says(endpoint.url),
        `Not removed in us-east-1: instance ${INSTANCE}, key pair ${KEY_PAIR}, security group ${GROUP}`,
        'moor rm -f web',
      );
      assert.ok(await exists(join(store.machineDir('web'), 'config.json')), 'the record is kept');
    });

    it('rm -f -y removes the record and says what it left in EC2', async () => {
      const result = await moor(['rm', '-f', '-y', 'web']);
      assertExit(result, 0, 'rm -f -y');
      for (const part of [
        `Not removed in us-east-1: instance ${INSTANCE}, key pair ${KEY_PAIR}, security group ${GROUP}`,
        `aws ec2 terminate-instances --instance-ids ${INSTANCE} --region us-east-1 --endpoint-url ${endpoint.url}`,
        `aws ec2 delete-key-pair --key-name ${KEY_PAIR} --region us-east-1 --endpoint-url ${endpoint.url}`,
        `aws ec2 delete-security-group --group-id ${GROUP} --region us-east-1 --endpoint-url ${endpoint.url}`,
        'Removing the local record anyway (--force)',
      ]) {
        assert.ok(result.stderr.includes(part), `stderr lacks ${JSON.stringify(part)}:\n${result.stderr}`);
      }
      assertNoStackTrace(result.stderr);
      assert.equal(await exists(store.machineDir('web')), false);
      assert.deepEqual(await processesOf(store), [], 'no moor process is left running');
    });
  });
}

describe('a moor rm killed while it holds the lock', () => {
  let endpoint: BrokenEc2;
  let store: TempStore;

  before(async () => {
    endpoint = await startBrokenEc2('stall');
    store = await TempStore.create();
    await seedRecord(store, 'web', endpoint.url);
  });

  after(async () => {
    await endpoint.close();
    await store.cleanup();
  });

  it('does not block the next rm -f -y', async () => {
    // A long request time-out: this rm waits on the endpoint, holding the lock, until it is killed.
    const child = spawn(process.execPath, [BIN, 'rm', '-y', 'web'], {
      env: cleanEnv({ ...ENV, MOOR_STORAGE_PATH: store.root, MOOR_AMAZONEC2_HTTP_TIMEOUT_MS: '600000' }),
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('close', (_code, signal) => resolve(signal)),
    );
    const lock = join(store.root, 'locks', 'machine-web.lock');
    // Bounded: until the lock exists and the rm reached the endpoint, or the rm ended.
    let seen = false;
    for (let polls = 0; polls < 1_200 && child.exitCode === null; polls += 1) {
      if ((await exists(lock)) && endpoint.hits() > 0) {
        seen = true;
        break;
      }
      await sleep(50);
    }
    assert.ok(seen, 'rm held the lock while waiting on the endpoint');
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.ok(await exists(lock), 'the killed rm left its lock file');

    const result = await store.moor(['rm', '-f', '-y', 'web'], { env: ENV, timeoutMs: 60_000 });
    assertExit(result, 0, 'rm -f -y after a killed rm');
    assert.equal(await exists(store.machineDir('web')), false);
    assert.equal(await exists(lock), false);
    assert.deepEqual(await processesOf(store), [], 'no moor process is left running');
  });
});
