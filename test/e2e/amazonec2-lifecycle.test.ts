/**
 * The amazonec2 driver end to end through the built CLI: the EC2 emulator (test/helpers/ec2-emulator.ts)
 * plays the account, and its one "instance" is a real Debian test host (test/helpers/testhost.ts): the
 * instance gets the host's IP, and the key pair moor imports is installed in the host's root
 * authorized_keys. create provisions Docker for real; ls, stop, start (with a NEW public IP: a second
 * address of the host, so the server certificate must be re-issued), restart and rm follow, and rm leaves
 * nothing in the emulated account.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EMULATOR_AWS_ENV, startEc2Emulator, type Ec2Emulator } from '../helpers/ec2-emulator.js';
import {
  allocateIp,
  cleanupHosts,
  hostName,
  releaseIp,
  runCommand,
  upHost,
  type TestHost,
} from '../helpers/testhost.js';
import { engineGet, hostOut, hostsOrPlaceholder, lsRow } from './generic-helpers.js';
import { assertExit, exists, parseJson, TempStore, type RunResult } from './helpers.js';

const NAME = 'ec2-web';

if (hostsOrPlaceholder('amazonec2 driver end to end (EC2 emulator + real test host)')) {
  describe('amazonec2 driver end to end (EC2 emulator + real test host)', () => {
    let host: TestHost;
    /** The host's second address: the instance's public IP after stop and start. */
    let secondIp: string;
    let ec2: Ec2Emulator;
    let store: TempStore;
    let created: RunResult;

    const moor = (args: string[], timeoutMs = 240_000) => store.moor(args, { env: EMULATOR_AWS_ENV, timeoutMs });

    async function ping(ip: string) {
      const dir = store.machineDir(NAME);
      const [ca, cert, key] = await Promise.all(
        ['ca.pem', 'cert.pem', 'key.pem'].map((file) => readFile(join(dir, file))),
      );
      return engineGet(`tcp://${ip}:2376`, '/_ping', { ca: ca!, cert: cert!, key: key! });
    }

    async function record(): Promise<{ Driver: Record<string, unknown> }> {
      return JSON.parse(await readFile(join(store.machineDir(NAME), 'config.json'), 'utf8'));
    }

    before(
      async () => {
        store = await TempStore.create();
        host = await upHost({ name: hostName('ec2'), ip: await allocateIp(), withDocker: true });
        secondIp = await allocateIp();
        ec2 = await startEc2Emulator({
          transitionMs: 300,
          ipFor: (_id, startCount) => (startCount === 1 ? host.ip : secondIp),
          onImportKeyPair: async (_name, publicKey) => {
            const result = await host.exec(
              `umask 077 && mkdir -p /root/.ssh && printf '%s\\n' '${publicKey}' >> /root/.ssh/authorized_keys`,
            );
            assert.equal(result.code, 0, result.stderr);
          },
        });
        created = await moor([
          'create',
          '-d',
          'amazonec2',
          '--amazonec2-endpoint',
          ec2.url,
          '--amazonec2-ssh-user',
          'root',
          '--amazonec2-tags',
          'team=e2e',
          NAME,
        ]);
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await ec2?.close();
      await cleanupHosts();
      if (secondIp) await releaseIp(secondIp);
      await store?.cleanup();
    });

    it('create exits 0 after provisioning Docker on the instance', async () => {
      assertExit(created, 0, 'create');
      assert.equal(created.stdout, `Machine "${NAME}" created (amazonec2 driver).\n`);
      const [instance] = [...ec2.instances.values()];
      assert.ok(instance);
      assert.deepEqual(instance.tags, { Name: NAME, team: 'e2e', 'moor:machine': NAME });
      assert.equal(ec2.instances.size, 1);
      assert.deepEqual(
        [...ec2.keyPairs.keys()].map((name) => /^moor-ec2-web-[0-9a-f]{8}$/.test(name)),
        [true],
      );
      const groups = [...ec2.groups.values()];
      assert.deepEqual(
        groups.map((group) => [group.name, group.rules.map((rule) => `${rule.from}/${rule.protocol}`)]),
        [['moor', ['22/tcp', '2376/tcp']]],
      );
      const driver = (await record()).Driver;
      assert.equal(driver['InstanceId'], instance.id);
      assert.equal(driver['IPAddress'], host.ip);
      assert.deepEqual(await ping(host.ip), { status: 200, body: 'OK' });
    });

    it('ls shows it Running with its URL and engine version, with one DescribeInstances', async () => {
      const before = ec2.calls.length;
      const ls = await moor(['ls']);
      assertExit(ls, 0, 'ls');
      const row = lsRow(ls.stdout, NAME);
      assert.equal(row['DRIVER'], 'amazonec2');
      assert.equal(row['STATE'], 'Running');
      assert.equal(row['URL'], `tcp://${host.ip}:2376`);
      assert.match(row['DOCKER'] ?? '', /^v\d+\.\d+/);
      assert.deepEqual(
        ec2.calls.slice(before).map((call) => call.Action),
        ['DescribeInstances'],
      );
    });

    it('stop: the instance is stopped and ls says so', async () => {
      assertExit(await moor(['stop', NAME]), 0, 'stop');
      assert.equal([...ec2.instances.values()][0]!.state, 'stopped');
      const ls = await moor(['ls', '--json']);
      const items = parseJson<{ Name: string; State: string }[]>(ls);
      assert.deepEqual(
        items.map((item) => [item.Name, item.State]),
        [[NAME, 'Stopped']],
      );
    });

    it('start with a new public IP: the server certificate is re-issued and installed, TLS works on the new IP', async () => {
      // The host answers on its second address too (the "new public IP").
      const added = await runCommand('ip', ['-n', `th-${host.name}`, 'addr', 'add', `${secondIp}/24`, 'dev', 'eth0']);
      assert.equal(added.code, 0, added.stderr);
      const start = await moor(['start', NAME]);
      assertExit(start, 0, 'start');
      assert.match(start.stderr, new RegExp(`new address \\(${secondIp.replaceAll('.', '\\.')}\\)`));
      assert.equal((await record()).Driver['IPAddress'], secondIp);
      const local = await readFile(join(store.machineDir(NAME), 'server.pem'), 'utf8');
      assert.equal(await hostOut(host, 'cat /etc/docker/server.pem'), local.trim());
      assert.deepEqual(await ping(secondIp), { status: 200, body: 'OK' });
      const ls = await moor(['ls']);
      assert.equal(lsRow(ls.stdout, NAME)['URL'], `tcp://${secondIp}:2376`);
    });

    it('restart reboots the instance and it is Running again', async () => {
      const before = ec2.calls.length;
      assertExit(await moor(['restart', NAME]), 0, 'restart');
      assert.ok(ec2.calls.slice(before).some((call) => call.Action === 'RebootInstances'));
      const ls = await moor(['ls', '--json']);
      assert.equal(parseJson<{ State: string }[]>(ls)[0]!.State, 'Running');
    });

    it('rm terminates the instance and deletes the key pair and the security group: nothing is left', async () => {
      const rm = await moor(['rm', '-y', NAME]);
      assertExit(rm, 0, 'rm');
      assert.deepEqual(ec2.leftovers(), { instances: [], keyPairs: [], groups: [] });
      assert.equal(await exists(store.machineDir(NAME)), false);
    });
  });
}
