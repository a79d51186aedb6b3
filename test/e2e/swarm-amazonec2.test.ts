/**
 * What a swarm needs from amazonec2, through the built CLI against the EC2 emulator: when a machine inits
 * (or joins) a swarm, its security group gets exactly 2377/tcp, 7946/tcp, 7946/udp and 4789/udp with the
 * group itself as the source, once (a second time adds nothing), and nothing new open to 0.0.0.0/0. The
 * emulated instances have loopback addresses with no engine behind them, so the init then fails on the
 * engine, after the rules are in place (the order a real init takes). A swarm advertises the instance's
 * private address: the group-sourced rules match traffic to private addresses only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  EMULATOR_AWS_ENV,
  EMULATOR_VPC,
  startEc2Emulator,
  writeAmazonec2Record,
  type Ec2Emulator,
} from '../helpers/ec2-emulator.js';
import { assertExit, TempStore } from './helpers.js';

describe('amazonec2 opens the swarm ports between the machines of its security group', () => {
  let ec2: Ec2Emulator;
  let store: TempStore;
  let groupId: string;
  let instanceId: string;

  const moor = (args: string[]) => store.moor(args, { env: EMULATOR_AWS_ENV, timeoutMs: 60_000 });
  const rules = () =>
    ec2.groups
      .get(groupId)!
      .rules.map((rule) => `${rule.protocol} ${rule.from}-${rule.to} ${rule.sourceGroup ?? rule.cidr}`)
      .sort();

  before(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 200, ipFor: (_id, count) => `127.0.0.${count + 1}` });
    store = await TempStore.create();
    const machine = ec2.seedMachine('node1');
    groupId = machine.groupId;
    instanceId = machine.instanceId;
    await writeAmazonec2Record(store.machineDir('node1'), 'node1', {
      endpoint: ec2.url,
      retries: 2,
      instanceId: machine.instanceId,
      ip: machine.ip,
      keyPairName: machine.keyPairName,
      vpcId: EMULATOR_VPC,
      groupId,
    });
  });
  after(async () => {
    await ec2?.close();
    await store?.cleanup();
  });

  it('swarm init adds exactly the four group rules, then fails on the engine; a second time adds nothing', async () => {
    const before = rules();
    assert.deepEqual(before, ['tcp 22-22 0.0.0.0/0']);
    // A routable advertise address: the emulated instance's own is loopback, which a swarm refuses.
    const init = await moor(['swarm', 'init', '--advertise-addr', '10.123.0.250', 'node1']);
    assertExit(init, 1, 'swarm init (no engine behind the emulated instance)');
    assert.match(
      init.stderr,
      /Opening 2377\/tcp, 7946\/tcp, 7946\/udp, 4789\/udp between the machines of security group/,
    );
    assert.match(init.stderr, /Cannot reach the Docker engine/);
    assert.deepEqual(rules(), [
      'tcp 22-22 0.0.0.0/0',
      `tcp 2377-2377 ${groupId}`,
      `tcp 7946-7946 ${groupId}`,
      `udp 4789-4789 ${groupId}`,
      `udp 7946-7946 ${groupId}`,
    ]);
    const authorizations = ec2.calls.filter((call) => call.Action === 'AuthorizeSecurityGroupIngress').length;

    const again = await moor(['swarm', 'init', '--advertise-addr', '10.123.0.250', 'node1']);
    assertExit(again, 1, 'swarm init again');
    assert.doesNotMatch(again.stderr, /Opening/);
    assert.equal(
      ec2.calls.filter((call) => call.Action === 'AuthorizeSecurityGroupIngress').length,
      authorizations,
      'no AuthorizeSecurityGroupIngress for rules that exist',
    );
    assert.equal(rules().length, 5);
    // Nothing more open to the world than create opened.
    assert.deepEqual(
      rules().filter((rule) => rule.endsWith('0.0.0.0/0')),
      before,
    );
    const record = await store.moor(['inspect', '--format', '{{json .HostOptions}}', 'node1']);
    assert.doesNotMatch(record.stdout, /SwarmOptions/, 'a failed init records no membership');
  });

  it('a group that cannot be changed: the error names the rules to add, and nothing is recorded', async () => {
    const second = ec2.seedMachine('node2');
    await writeAmazonec2Record(store.machineDir('node2'), 'node2', {
      endpoint: ec2.url,
      retries: 2,
      instanceId: second.instanceId,
      ip: second.ip,
      keyPairName: second.keyPairName,
      vpcId: EMULATOR_VPC,
      groupId: second.groupId,
    });
    ec2.failures['AuthorizeSecurityGroupIngress'] = 'UnauthorizedOperation';
    try {
      const init = await moor(['swarm', 'init', '--advertise-addr', '10.123.0.251', '--json', 'node2']);
      assertExit(init, 1, 'swarm init with a read-only group');
      const { error } = JSON.parse(init.stdout) as { error: { code: string; message: string; suggestions: string[] } };
      assert.equal(error.code, 'SWARM_PORTS_CLOSED');
      assert.match(error.message, new RegExp(`Cannot open the swarm ports in security group ${second.groupId}`));
      assert.ok(
        error.suggestions.includes(
          `Add inbound rules to ${second.groupId} with the group itself as the source: 2377/tcp, 7946/tcp, 7946/udp, 4789/udp.`,
        ),
        JSON.stringify(error.suggestions),
      );
    } finally {
      delete ec2.failures['AuthorizeSecurityGroupIngress'];
    }
    assert.deepEqual(
      ec2.groups.get(second.groupId)!.rules.map((rule) => `${rule.protocol} ${rule.from}`),
      ['tcp 22'],
    );
  });

  it("a swarm advertises the instance's private address (what group-sourced rules apply to; kept across stop/start)", async () => {
    const third = ec2.seedMachine('node3');
    await writeAmazonec2Record(store.machineDir('node3'), 'node3', {
      endpoint: ec2.url,
      retries: 2,
      instanceId: third.instanceId,
      ip: third.ip,
      privateIp: third.privateIp,
      keyPairName: third.keyPairName,
      vpcId: EMULATOR_VPC,
      groupId: third.groupId,
    });
    const init = await moor(['swarm', 'init', 'node3']);
    assertExit(init, 1, 'swarm init (no engine behind the emulated instance)');
    assert.match(
      init.stderr,
      new RegExp(`Initialising a swarm on "node3" \\(advertised at ${third.privateIp.replace(/[.]/g, '\\.')}\\)`),
    );
    assert.match(init.stderr, /Cannot reach the Docker engine/);
  });

  it('a machine on a loopback address is refused with the reason, before any EC2 change', async () => {
    // An address no other machine reaches (as a qemu VM's on user-mode networking).
    ec2.instances.get(instanceId)!.privateIp = '127.0.0.9';
    const calls = ec2.calls.length;
    const init = await moor(['swarm', 'init', 'node1']);
    assertExit(init, 1, 'swarm init on a loopback address');
    assert.match(init.stderr, /reachable only at 127\.0\.0\.9 .*other machines cannot reach it/);
    assert.deepEqual(
      ec2.calls.slice(calls).map((call) => call.Action),
      ['DescribeInstances'],
    );
  });
});
